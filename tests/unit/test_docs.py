"""Docs that are generated from code stay in sync with it."""

from __future__ import annotations

from pathlib import Path

from scoreboard_devstack.settings_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_table_matches_the_settings_classes() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert documented == render(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m scoreboard_devstack.settings_doc > docs/configuration.md`"
    )


def test_readme_links_point_at_files_that_exist() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if target.startswith("http"):
            continue
        assert (ROOT / target).exists(), f"README links to missing {target}"
