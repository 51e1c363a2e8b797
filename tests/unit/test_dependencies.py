"""Every third-party module a workspace package imports is declared in its own pyproject.toml
(or by a workspace package it depends on): nothing works only because another dependency
happens to pull it in (realtime used websockets through uvicorn[standard])."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "scoreboard-common": ROOT / "libs/common",
    "scoreboard-api": ROOT / "services/api",
    "scoreboard-realtime": ROOT / "services/realtime",
    "scoreboard-operator": ROOT / "operator",
    "scoreboard-devstack": ROOT / "tools/devstack",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(package: str) -> set[str]:
    project = tomllib.loads((PACKAGES[package] / "pyproject.toml").read_text())["project"]
    names = {
        _normalise(re.split(r"[\[=<>~!; ]", dep, maxsplit=1)[0])
        for dep in project.get("dependencies", [])
    }
    for name in list(names):
        if name in PACKAGES:
            names |= _declared(name)
    return names


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for source in PACKAGES[package].rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {
        m for m in found if m not in sys.stdlib_module_names and not m.startswith("scoreboard_")
    }


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_import_is_declared(package: str) -> None:
    distributions = packages_distributions()
    declared = _declared(package)
    undeclared = {
        module: distributions.get(module, [])
        for module in _imports(package)
        if not declared & {_normalise(d) for d in distributions.get(module, [])}
    }
    assert undeclared == {}, f"{package} imports modules its pyproject.toml does not declare"
