"""pyproject.toml declares what the wheel needs; requirements.txt pins what `make run` installs. The
two name the same packages and every pin lies in its declared range, so an install from either
runs the code the tests ran."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def _pins(name: str) -> dict[str, Requirement]:
    lines = (REPO / name).read_text().splitlines()
    reqs = [Requirement(re.sub(r"\s+#.*", "", ln).strip()) for ln in lines if ln.strip() and ln[0] not in "#-"]
    return {canonicalize_name(r.name): r for r in reqs}


PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _declared(reqs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


def test_every_pin_of_requirements_txt_lies_in_its_declared_range_and_none_is_left_out():
    pins, declared = _pins("requirements.txt"), _declared(PROJECT["dependencies"])
    assert set(pins) == set(declared)
    for name, pin in pins.items():
        (version,) = [s.version for s in pin.specifier]
        assert declared[name].specifier.contains(version), f"{name}=={version} outside {declared[name].specifier}"
        assert declared[name].extras == pin.extras, name


def test_the_training_extra_holds_requirements_train_txt():
    pins, declared = _pins("requirements-train.txt"), _declared(PROJECT["optional-dependencies"]["train"])
    assert set(pins) == set(declared)
    assert all(declared[n].specifier.contains(next(iter(p.specifier)).version) for n, p in pins.items())

