"""Structured JSON logs for the operator, including kopf's per-object log records."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_KOPF_INTERNAL = {"settings", "k8s_skip", "k8s_ref"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, object (namespace/name), extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict) and ref.get("name"):
            ns = ref.get("namespace")
            payload["object"] = f"{ns}/{ref['name']}" if ns else str(ref["name"])
        for key, value in record.__dict__.items():
            if key in _RESERVED or key in _KOPF_INTERNAL or key.startswith("_"):
                continue
            payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kopf's API-call debug lines and aiohttp access logs are noise at INFO.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
