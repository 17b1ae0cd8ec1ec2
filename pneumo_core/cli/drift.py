"""The drift alarm command (placeholder until the drift module lands)."""
from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    pass
