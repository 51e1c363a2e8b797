"""Render docs/configuration.md from the services' settings classes, so the table can't drift.

`python -m scoreboard_devstack.settings_doc > docs/configuration.md`; a unit test compares.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

SERVICES = (
    ("api", "scoreboard_api.settings", "ApiSettings"),
    ("realtime", "scoreboard_realtime.settings", "RealtimeSettings"),
    ("operator", "scoreboard_operator.settings", "OperatorSettings"),
)

HEADER = """# Configuration

Every service reads its settings from environment variables when it starts, validates them
(pydantic-settings) and stops with a message naming the bad variable. List values are JSON
(`TRUSTED_PROXIES='["10.0.0.0/8"]'`). Tracing uses the standard OpenTelemetry variables
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_EXPORTER`, `OTEL_SERVICE_NAME`, ...); it is off
unless one of the first two is set.

This file is generated: `.venv/bin/python -m scoreboard_devstack.settings_doc > docs/configuration.md`.
"""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*required*"
    else:
        value = field.default
    if value is None:
        return "—"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _describe(field: FieldInfo) -> str:
    text = (field.description or "").replace("\n", " ").replace("|", "\\|")
    symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    bounds = [
        f"{symbols[attr]} {getattr(meta, attr)}"
        for meta in field.metadata
        for attr in symbols
        if getattr(meta, attr, None) is not None
    ]
    if bounds:
        text = f"{text} ({', '.join(bounds)})".strip()
    return text


def render() -> str:
    parts = [HEADER]
    for service, module_name, class_name in SERVICES:
        settings_class = getattr(importlib.import_module(module_name), class_name)
        parts.append(f"\n## {service}\n\n| Variable | Default | Meaning |\n|---|---|---|")
        for name, field in settings_class.model_fields.items():
            env_name = (
                field.validation_alias
                if isinstance(field.validation_alias, str)
                else field.alias or name
            ).upper()
            parts.append(f"| `{env_name}` | {_default(field)} | {_describe(field)} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")
