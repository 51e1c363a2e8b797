"""Property-based run of schemathesis against /schema/openapi.json: no 5xx, no schema violation.

It runs against its own api process and database (it creates and deletes boards as admin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support.services import migrate


def test_schemathesis_finds_no_server_errors_or_schema_violations(
    postgres: PostgresServer,
    base_env: dict[str, str],
    start_api: Any,
    admin_token: str,
    tmp_path: Path,
) -> None:
    url = postgres.create_database("schemathesis_api")
    migrate({**base_env, "DATABASE_URL": url})
    api: ServiceProcess = start_api(DATABASE_URL=url, AUTH_RATE_LIMIT_PER_MINUTE="100000")
    # A schema-valid request may still meet a legitimate conflict (a taken username, a used
    # action_id) or a rate limit: those statuses count as accepted. Registration may also refuse
    # a schema-valid password or name that the policy finds weak or reserved (400
    # weak_password / username_reserved: no schema can express a strength estimate), and a
    # board PUT may break a rule across fields that JSON Schema cannot state (webhookTarget.url
    # must equal webhook.url; scoring.actions only with operator increment: 400
    # validation_error naming the rule).
    # Everything else is default.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[checks.positive_data_acceptance]\n"
        'expected-statuses = ["2xx", "401", "403", "404", "409", "429"]\n'
        "\n[[operations]]\n"
        'include-path = "/api/v1/auth/register"\n'
        "[operations.checks.positive_data_acceptance]\n"
        'expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]\n'
        "\n[[operations]]\n"
        'include-path = "/api/v1/admin/leaderboards/{board}"\n'
        'include-method = "PUT"\n'
        "[operations.checks.positive_data_acceptance]\n"
        'expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]\n'
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{api.url}/schema/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "20240601",
            "--request-timeout",
            "10",
            "-H",
            f"Authorization: Bearer {admin_token}",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=280,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
