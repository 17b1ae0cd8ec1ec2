"""The package layout is a promise to a newcomer: lower layers never import higher ones, and
no two packages import each other, so each can be read (and tested) without what sits above."""
import ast
from pathlib import Path

import pytest
from conftest import REPO

CORE = REPO / "pneumo_core"
# Each package may import its own layer and those below it, never above.
LAYERS = [{"audit", "io", "stats"}, {"data"}, {"models", "monitoring"}, {"calibration", "adaptation"}, {"inference"},
          {"evaluation", "pacs", "reporting"}, {"node"},
          {"training"}, {"cli", "app"}]
LAYER = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _runtime_imports(path: Path) -> list[str]:
    """pneumo_core packages this file imports when run (imports for type checkers excluded)."""
    rel = path.relative_to(CORE).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and id(node) not in skip:
            base = package[: len(package) - (node.level - 1)]
            names = [node.module] if node.module else [a.name for a in node.names]
            found += [(base + n.split("."))[0] if base or n else "" for n in names]
    return [f for f in found if f and not f.startswith("__")]


def _package(path: Path) -> str:
    parts = path.relative_to(CORE).parts
    return parts[0] if len(parts) > 1 else ""


@pytest.mark.parametrize("path", sorted(p for p in CORE.rglob("*.py") if _package(p) in LAYER), ids=str)
def test_no_module_imports_a_higher_layer(path):
    own = LAYER[_package(path)]
    upward = [pkg for pkg in _runtime_imports(path) if pkg in LAYER and LAYER[pkg] > own]
    assert not upward, f"{path.relative_to(REPO)} imports {upward}, above its layer"


def test_the_library_never_imports_the_app():
    offenders = [p for p in CORE.rglob("*.py") if _package(p) != "app" and "app" in _runtime_imports(p)]
    assert not offenders


def test_errors_module_is_the_base_class_alone_and_imports_nothing_from_the_product():
    assert _runtime_imports(CORE / "errors.py") == []
    tree = ast.parse((CORE / "errors.py").read_text())
    assert [n.name for n in tree.body if isinstance(n, ast.ClassDef)] == ["PneumoError"]


def test_every_top_level_module_belongs_to_a_package():
    loose = sorted(p.name for p in CORE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert not loose, f"modules outside any package: {loose}"


@pytest.mark.parametrize("package", sorted(LAYER))
def test_every_package_says_what_it_is_for_and_what_it_exports(package):
    init = CORE / package / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{package}/__init__.py has no docstring"
    assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
               for n in tree.body), f"{package}/__init__.py has no __all__"


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("folder, forbidden", [("tests", "benchmarks"), ("benchmarks", "tests"),
                                               ("pneumo_core", "benchmarks"), ("pneumo_core", "tests"),
                                               ("pneumo_core", "harness")])
def test_tests_and_benchmarks_never_import_each_other_and_the_product_imports_neither(folder, forbidden):
    offenders = [str(p.relative_to(REPO)) for p in (REPO / folder).rglob("*.py") if forbidden in _imports_of(p)]
    assert not offenders, f"{offenders} import {forbidden}"


def test_no_two_packages_import_each_other():
    edges = {(_package(p), dep) for p in CORE.rglob("*.py") if _package(p) in LAYER
             for dep in _runtime_imports(p) if dep in LAYER and dep != _package(p)}
    mutual = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert not mutual, f"packages importing each other: {mutual}"


APP = CORE / "app"
# The app's rooms, each importing only rooms of an earlier entry (or its own).
APP_LAYERS = [{"runtime", "access"}, {"settings"}, {"reading"}, {"review"}, {"site", "pacs"}]
APP_LAYER = {room: i for i, layer in enumerate(APP_LAYERS) for room in layer}


def _app_rooms_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rooms = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
            rooms.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 2:
            rooms |= {a.name for a in node.names}
    return rooms & set(APP_LAYER)


def test_every_app_module_lives_in_a_room():
    loose = sorted(p.name for p in APP.glob("*.py") if p.name not in ("__init__.py", "serve.py"))
    assert not loose and {p.name for p in APP.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(APP_LAYER)


@pytest.mark.parametrize("path", sorted(p for p in APP.glob("*/*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_no_app_room_imports_a_later_room(path):
    own = APP_LAYER[path.parent.name]
    later = sorted(r for r in _app_rooms_imported(path) if APP_LAYER[r] > own)
    assert not later, f"{path.relative_to(REPO)} imports {later}, a room after its own"


def test_no_two_app_rooms_import_each_other():
    edges = {(p.parent.name, r) for p in APP.glob("*/*.py") for r in _app_rooms_imported(p) if r != p.parent.name}
    assert not [(a, b) for a, b in edges if (b, a) in edges]


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_no_library_file_over_300_lines_nor_function_over_60(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 300, f"{path.relative_to(REPO)}: split it by what its parts do"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{path.relative_to(REPO)}: {long}"
