"""Docs that are generated from code stay in sync with it, and docs name files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
import yaml
from scoreboard_common.policy import BoardSpec, is_board_name
from scoreboard_devstack.settings_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_table_matches_the_settings_classes() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert documented == render(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m scoreboard_devstack.settings_doc > docs/configuration.md`"
    )


# Paths in the docs that name files of this repository (in links, code spans or console lines).
_REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:charts|docs|services|operator|libs|tools|observability|tests|deploy"
    r"|scripts|bench)/[\w./*-]*[\w/*])"
)
_DOCS = [
    "README.md",
    "charts/scoreboard/README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
    *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("services/*/README.md")),
]


@pytest.mark.parametrize("doc", _DOCS)
def test_files_a_doc_names_exist(doc: str) -> None:
    """README's cluster quick start applied an example that did not exist; every path a doc
    names (repo-relative, globs allowed) and every relative link must resolve."""
    path = ROOT / doc
    text = path.read_text()
    missing = [
        target for target in _REPO_PATH.findall(text) if not list(ROOT.glob(target.rstrip("/.")))
    ]
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if not target.startswith(("http://", "https://", "mailto:", "/")) and not (
            (path.parent / target).exists()
        ):
            missing.append(target)
    assert missing == [], f"{doc} names missing files: {missing}"


def test_the_example_leaderboard_is_a_valid_board() -> None:
    example = yaml.safe_load((ROOT / "charts/scoreboard/examples/leaderboard.yaml").read_text())
    crd = yaml.safe_load(
        (ROOT / "charts/scoreboard/files/crds/leaderboards.scoreboard.dev.yaml").read_text()
    )
    (version,) = crd["spec"]["versions"]
    assert example["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
    assert example["kind"] == crd["spec"]["names"]["kind"]
    assert is_board_name(example["metadata"]["name"])
    spec = msgspec.convert(example["spec"], BoardSpec)  # strict: unknown fields, bounds
    assert spec.scoring.actions and spec.season is not None
