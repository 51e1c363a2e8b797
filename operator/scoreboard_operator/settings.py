"""Operator settings, read from the environment (names are the upper-case field names)."""

from __future__ import annotations

import functools

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from scoreboard_common.settings import LogLevel, load_settings

#: API group, version and plural of the custom resource this operator serves.
GROUP = "scoreboard.dev"
VERSION = "v1alpha1"
PLURAL = "leaderboards"

#: Annotations and kopf storage keys live under the project's own domain.
DOMAIN = "scoreboard.dev"
FINALIZER = f"{DOMAIN}/finalizer"
RESET_ANNOTATION = f"{DOMAIN}/reset-requested"
SKIP_CLEANUP_ANNOTATION = f"{DOMAIN}/skip-cleanup"
#: kopf's progress and diff-base annotations use a sub-domain of ours, not ``scoreboard.dev/``
#: itself: kopf drops every annotation under its storage prefix from the diff it reacts to, so
#: sharing the prefix would hide user-facing annotations such as ``reset-requested``.
KOPF_STORAGE_PREFIX = f"operator.{DOMAIN}"
LAST_HANDLED_ANNOTATION = f"{KOPF_STORAGE_PREFIX}/last-handled-configuration"


class OperatorSettings(BaseSettings):
    """Environment of ``scoreboard-operator run``."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    scoreboard_api_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of the scoreboard api (its admin endpoints live under /api/v1/admin).",
    )
    scoreboard_api_token: str = Field(
        "",
        description="Bearer token for the admin endpoints: an admin JWT (scope scoreboard:admin) "
        "or the api's ADMIN_API_KEY.",
    )
    scoreboard_api_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of one request to the api."
    )
    watch_namespace: str = Field(
        "", description="Serve only this namespace (comma-separated list allowed); empty = all."
    )
    drift_check_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often each board is compared with the api's copy."
    )
    season_check_seconds: float = Field(
        5.0, gt=0, le=300, description="How often each board's season schedule is checked."
    )
    metrics_port: int = Field(9090, ge=0, le=65535, description="Prometheus port (0 = off).")
    health_port: int = Field(
        8080,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("HEALTH_PORT", "LIVENESS_PORT"),
        description="Port of kopf's liveness endpoint /healthz (0 = off).",
    )
    peering_name: str = Field(
        "",
        validation_alias=AliasChoices("PEERING_NAME", "OPERATOR_PEERING"),
        description="(Cluster)KopfPeering object shared by the replicas; empty = standalone.",
    )
    peering_priority: int | None = Field(
        None,
        validation_alias=AliasChoices("PEERING_PRIORITY", "OPERATOR_PRIORITY"),
        description="Peering priority of this replica; unset = derived from POD_NAME.",
    )
    pod_name: str = Field(
        "",
        validation_alias=AliasChoices("POD_NAME", "POD_ID"),
        description="This replica's pod name: its peering identity and priority seed.",
    )
    retry_max_delay_seconds: float = Field(
        60.0, gt=0, description="Upper bound of the growing retry delay when the api fails."
    )
    log_level: LogLevel = Field("INFO", description="Log level of the JSON logs.")

    @field_validator("scoreboard_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def namespaces(self) -> list[str]:
        return [ns.strip() for ns in self.watch_namespace.split(",") if ns.strip()]


@functools.cache
def get_settings() -> OperatorSettings:
    """The process-wide settings (read once; exits with a clear message when invalid)."""
    return load_settings(OperatorSettings)
