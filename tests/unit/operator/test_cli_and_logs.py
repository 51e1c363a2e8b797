"""CLI helpers and JSON logs."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner
from scoreboard_operator.cli import default_priority, main
from scoreboard_operator.logs import JsonFormatter


def test_priorities_are_stable_per_pod_and_distinct_between_pods() -> None:
    a = default_priority("sb-operator-7d9f-abcde")
    assert a == default_priority("sb-operator-7d9f-abcde")
    assert a != default_priority("sb-operator-7d9f-fghij")
    assert 1 <= a < 2**31
    assert 1 <= default_priority("") < 2**31


def test_run_is_documented() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--namespace", "--peering", "--standalone", "--priority", "--liveness"):
        assert option in result.output


def test_kopf_object_records_become_one_json_line() -> None:
    record = logging.makeLogRecord(
        {
            "name": "kopf.objects",
            "levelname": "INFO",
            "msg": "Handler %r succeeded.",
            "args": ("reconcile",),
            "k8s_ref": {"name": "global", "namespace": "games"},
            "settings": object(),
            "k8s_skip": False,
        }
    )
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["msg"] == "Handler 'reconcile' succeeded."
    assert data["object"] == "games/global"
    assert "settings" not in data and "k8s_ref" not in data
