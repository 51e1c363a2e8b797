"""Images can't be built on these machines (no Docker engine), so check what can go stale:
`uv sync --frozen` in the image needs every workspace member's pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ["services/api/Dockerfile", "services/realtime/Dockerfile", "operator/Dockerfile"]


def workspace_members() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["uv"]["workspace"]["members"])


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_workspace_pyproject_is_copied(dockerfile: str) -> None:
    text = (ROOT / dockerfile).read_text()
    for member in workspace_members():
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in text, (dockerfile, member)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_images_run_as_non_root_from_a_pinned_base(dockerfile: str) -> None:
    text = (ROOT / dockerfile).read_text()
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-\w+$", text, re.MULTILINE)
    assert "uv==${UV_VERSION}" in text


def test_dockerignore_lets_every_member_pyproject_through() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for member in workspace_members():
        assert f"!{member}/" in lines or f"!{member}/pyproject.toml" in lines, member
