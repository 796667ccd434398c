"""Imports between omezarr's packages flow one way (arguments → request → plan → engine).

Each room may import only the rooms listed for it here; a change that needs an arrow the
other way must change this table, on purpose, in review.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "omezarr"

LEAVES = {"types", "_numbers", "_errors", "_budget"}
"""Shared leaves (type aliases, integer checks, parameter errors) that import nothing of omezarr."""

ALLOWED: dict[str, set[str]] = {
    "types": set(),
    "_numbers": set(),
    "_errors": set(),
    "_budget": {"_errors"},
    "ngff": {"types"},  # pure: facts about NGFF, no storage, no pixels
    "pyramid": set(),  # pure: arrays in, arrays out
    "io": {"types"},  # stores and bytes, no NGFF model
    "engine": {"pyramid", "io"},  # knows arrays and bytes, not NGFF
    "_compat": {"ngff", "pyramid", "types"},
    "write": {"_compat", "engine", "io", "ngff", "pyramid", "types"},  # the only join
    "read": {"io", "ngff", "types"},
    "validate": {"io", "ngff", "types"},
    "tools": {"io", "read", "types"},
    "convert": {
        "__version__",
        "engine",
        "io",
        "ngff",
        "pyramid",
        "read",
        "tools",
        "types",
        "write",
    },
    "cli": {"convert", "engine", "pyramid", "read", "tools", "validate", "write"},
}


def _imported_rooms() -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        room = parts[0]
        package = ["omezarr", *parts[:-1]]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package[: len(package) - node.level + 1]
                if node.module is None:
                    targets = [[*base, alias.name] for alias in node.names]
                else:
                    targets = [[*base, *node.module.split(".")]]
            elif node.module and node.module.split(".")[0] == "omezarr":
                targets = [node.module.split(".")]
            else:
                continue
            rooms[room].update(target[1] for target in targets if len(target) > 1)
        rooms[room].discard(room)
    return rooms


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_it_may(room: str) -> None:
    allowed = ALLOWED[room] if room in LEAVES else ALLOWED[room] | LEAVES
    imported = _imported_rooms()[room]
    assert imported <= allowed, f"{room} imports {sorted(imported - allowed)}"


def test_every_room_is_listed() -> None:
    public_faces = {"__init__", "__main__", "axes", "format", "reader", "scale", "writer"}
    rooms = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.glob("*")}
    rooms = {
        room for room in rooms if (PACKAGE / room).is_dir() or (PACKAGE / f"{room}.py").exists()
    }
    rooms -= {"schemas", "viewer_static", "__pycache__", "py.typed"} | public_faces
    assert rooms == set(ALLOWED) - set(), sorted(rooms ^ set(ALLOWED))


def test_zarr_internals_are_called_from_io_only() -> None:
    """zarr-python's private API (``zarr.core``) may change in any release: one room holds it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] == "io":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(name == "zarr.core" or name.startswith("zarr.core.") for name in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders


def test_the_readme_layout_names_every_package_and_module() -> None:
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    layout = readme[readme.index("## Layout of the code") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    words = set(re.findall(r"[\w.]+", layout))
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] in {"__init__", "__main__"}:
            continue
        name = parts[-1] if len(parts) > 1 else f"{parts[-1]}.py"
        if name not in words:
            missing.append("/".join(parts))
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        if f"{folder.name}/" not in layout:
            missing.append(f"{folder.name}/")
    assert not missing, f"the README's layout does not name {missing}"
