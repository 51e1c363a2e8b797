"""Structured JSON logs on stdout, one object per line, for every service and the operator."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

_encoder = msgspec.json.Encoder(enc_hook=str)
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """ts, level, logger, msg, then every ``extra`` field; subclasses add context."""

    skip_fields: ClassVar[frozenset[str]] = frozenset()

    def context(self, record: logging.LogRecord) -> dict[str, Any]:
        """Fields derived from the record (e.g. the Kubernetes object being handled)."""
        return {}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self.context(record),
        }
        for key, value in record.__dict__.items():
            if key in _RESERVED or key in self.skip_fields or key.startswith("_"):
                continue
            payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(payload).decode()


def configure_logging(
    level: str,
    service: str,
    *,
    formatter: logging.Formatter | None = None,
    quiet: Iterable[str] = (),
) -> None:
    """Send every log record to stdout as JSON. ``quiet`` loggers are raised to WARNING."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter or JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("scoreboard").info("starting", extra={"service": service})
