"""Where each command sits: grouped the way people meet them. Reading films and checking the
install stay at the top (`predict`, `drift`, `models`, `verify`, `audit`); what a site does
with its own films is under `site`; what builds and measures the shipped models is under `dev`.

The flat names of the previous release (`calibrate-site`, `adapt-site`, `train`, ...) still
work, unlisted, for one release: scripts and notes that use them keep running.
"""
from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["PLACES", "GROUPS", "register_grouped"]

GROUPS = {"site": "a site's own films: calibrate on a few labels, adapt without labels, measure how either does",
          "dev": "build and measure the shipped models (training, selection, evaluation, studies' inputs)"}

# flat name -> (group, name in the group)
PLACES: dict[str, tuple[str, str]] = {
    "calibrate-site": ("site", "calibrate"),
    "adapt-site": ("site", "adapt"),
    "site-study": ("site", "study"),
    "adapt-study": ("site", "adapt-study"),
    "evaluate": ("dev", "evaluate"),
    "counts": ("dev", "counts"),
    "source-scores": ("dev", "source-scores"),
    "class-moments": ("dev", "class-moments"),
    "drift-reference": ("dev", "drift-reference"),
    "train": ("dev", "train"),
    "select": ("dev", "select"),
    "fit-ood": ("dev", "fit-ood"),
    "recalibrate": ("dev", "recalibrate"),
}


class _Router:
    """Stands in for the top-level subparsers when a module registers its commands. One pass
    per `mode`: "top" keeps the commands that stay at the top level, "grouped" puts the others
    under their group, "flat" adds the old flat names at the top level, unlisted."""

    def __init__(self, top: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction], mode: str):
        self.top, self.groups, self.mode = top, groups, mode

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        place = PLACES.get(name)
        if self.mode == "top" and place is None:
            return self.top.add_parser(name, **kwargs)
        if self.mode == "grouped" and place is not None:
            return self.groups[place[0]].add_parser(place[1], **kwargs)
        if self.mode == "flat" and place is not None:
            kwargs.pop("help", None)  # unlisted
            return self.top.add_parser(name, **kwargs)
        return argparse.ArgumentParser(add_help=False)  # registered in another pass


def register_grouped(top: argparse._SubParsersAction, registers: list[Callable[[argparse._SubParsersAction], None]]
                     ) -> None:
    """The top-level commands, then each group with its commands, then the old flat names."""
    for register in registers:
        register(_Router(top, {}, "top"))  # type: ignore[arg-type]
    groups = {}
    for name, help_text in GROUPS.items():
        g = top.add_parser(name, help=help_text, description=help_text)
        groups[name] = g.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")
    for mode in ("grouped", "flat"):
        for register in registers:
            register(_Router(top, groups, mode))  # type: ignore[arg-type]
