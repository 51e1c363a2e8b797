"""What can go stale in the Dockerfile between image builds (the `cluster` tier builds and runs
the images for real): `uv sync --frozen` needs every workspace member's pyproject.toml, and the
legacy builder (Debian's docker.io, no BuildKit) takes no `# syntax=` line and no RUN --mount."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IMAGES = {
    "api": "scoreboard-api",
    "realtime": "scoreboard-realtime",
    "operator": "scoreboard-operator",
}


def workspace_members() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["uv"]["workspace"]["members"])


def test_every_workspace_pyproject_is_copied() -> None:
    text = DOCKERFILE.read_text()
    for member in workspace_members():
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in text, member


@pytest.mark.parametrize(("target", "package"), IMAGES.items())
def test_each_image_installs_only_its_package_and_runs_its_command(
    target: str, package: str
) -> None:
    text = DOCKERFILE.read_text()
    final = text.split(f"FROM runtime AS {target}\n")[1].split("\nFROM ")[0]
    assert f"COPY --from=build-{target} " in final
    assert f'ENTRYPOINT ["{package}"]' in final
    build = text.split(f"FROM workspace AS build-{target}\n")[1].split("\nFROM ")[0]
    assert build.count(f"--package {package}") == 2


def test_images_run_as_non_root_from_a_pinned_base() -> None:
    text = DOCKERFILE.read_text()
    runtime = text.split("FROM ${PYTHON_IMAGE} AS runtime\n")[1].split("\nFROM ")[0]
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-\w+$", text, re.MULTILINE)
    assert "uv==${UV_VERSION}" in text


def test_dockerignore_lets_every_member_pyproject_through() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for member in workspace_members():
        assert f"!{member}/" in lines or f"!{member}/pyproject.toml" in lines, member


def test_the_legacy_builder_can_build_it() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax=", text, re.MULTILINE)
    assert "--mount" not in text.replace("no RUN --mount", "")
    assert "--chmod" not in text and "--link" not in text  # BuildKit-only COPY flags


def test_the_build_ca_never_reaches_a_final_image() -> None:
    """The host's CA bundle is copied into the build stages only; final stages start FROM the
    runtime base and copy nothing but /app/.venv from a build stage."""
    text = DOCKERFILE.read_text()
    runtime = text.split("FROM ${PYTHON_IMAGE} AS runtime\n")[1]
    assert "build-ca" not in runtime and ".build/" not in runtime
    copies = re.findall(r"^COPY .*$", runtime, re.MULTILINE)
    assert copies and all(c.startswith("COPY --from=build-") and "/app/.venv" in c for c in copies)
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/.build/" in ignored
