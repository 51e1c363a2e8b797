"""The operator's JSON logs: the shared formatter plus the object kopf is handling."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from scoreboard_common.logs import JsonFormatter as CommonJsonFormatter
from scoreboard_common.logs import configure_logging as configure_common_logging


class JsonFormatter(CommonJsonFormatter):
    """Adds ``object`` (namespace/name) from kopf's per-object records; hides kopf internals."""

    skip_fields: ClassVar[frozenset[str]] = frozenset({"settings", "k8s_skip", "k8s_ref"})

    def context(self, record: logging.LogRecord) -> dict[str, Any]:
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict) and ref.get("name"):
            namespace = ref.get("namespace")
            name = str(ref["name"])
            return {"object": f"{namespace}/{name}" if namespace else name}
        return {}


def configure_logging(level: str = "INFO") -> None:
    # kopf's API-call debug lines and aiohttp access logs are noise at INFO.
    configure_common_logging(
        level, "operator", formatter=JsonFormatter(), quiet=("aiohttp.access", "httpx")
    )
