"""Settings loading shared by every service.

Each service declares a ``pydantic_settings.BaseSettings`` subclass of :class:`CommonSettings`;
:func:`load_settings` reads it from the environment and turns a validation failure into one
clear message naming the bad variable, so a misconfigured pod fails fast and readably.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Algorithm = Literal["ES256", "EdDSA", "RS256"]


class CommonSettings(BaseSettings):
    """Variables every service reads. Names are the plain upper-case field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    log_level: LogLevel = Field("INFO", description="Log level of the JSON logs.")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis for rankings, caches, rate limits and Pub/Sub. "
        "`redis+cluster://host:port` selects the cluster client.",
    )
    auth_issuer: str = Field("scoreboard", description="Required `iss` of access tokens.")
    auth_audience: str = Field("scoreboard", description="Required `aud` of access tokens.")
    auth_algorithms: list[Algorithm] = Field(
        default_factory=lambda: list[Algorithm](["ES256"]),
        description="Pinned JWT algorithms (JSON list). Never `none` or HMAC.",
    )
    auth_jwks_url: str | None = Field(
        None, description="JWKS URL to verify tokens with (external OIDC issuer, or the api's)."
    )
    auth_public_key_file: str | None = Field(
        None, description="PEM public key file to verify tokens with (alternative to a JWKS URL)."
    )
    auth_leeway_seconds: int = Field(5, ge=0, le=300, description="Clock leeway for exp/nbf.")
    http_max_header_bytes: int = Field(
        16384,
        ge=1024,
        le=1_048_576,
        description="Largest request line plus headers; counted as the bytes arrive, a larger "
        "head gets 431 before it is buffered.",
    )
    http_max_headers: int = Field(
        100, ge=10, le=1000, description="Most header fields in one request; more gets 431."
    )
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A connection whose request headers are not complete this long after it "
        "opened (or the request began) is answered 408 and closed (slow-header clients).",
    )
    http_keep_alive_seconds: int = Field(
        5, ge=1, le=300, description="Idle keep-alive connections are closed after this."
    )

    revocation_refresh_seconds: float = Field(
        1.0,
        gt=0,
        le=5,
        description="How often revoked sessions and disabled accounts are reloaded from Redis: "
        "a logout or an account disabled takes effect on every replica (and closes its open "
        "sockets) within this period.",
    )

    def configure_http_protocol(self) -> None:
        """Apply the header limits to the guarded uvicorn protocol of this process."""
        from scoreboard_common.http_server import GuardedHttpToolsProtocol

        GuardedHttpToolsProtocol.configure(
            max_head_bytes=self.http_max_header_bytes,
            max_headers=self.http_max_headers,
            head_timeout=self.http_header_timeout_seconds,
        )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def describe_errors(error: ValidationError) -> str:
    """Render a pydantic error as ``VARIABLE: reason`` lines."""
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "?"
        lines.append(f"  {name}: {item['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Read settings from the environment, or exit with a message naming the bad variable."""
    try:
        return cls()
    except ValidationError as error:
        sys.stderr.write(describe_errors(error) + "\n")
        raise SystemExit(2) from None
