"""Settings of the api service, read from the environment (see docs/api.md for the table)."""

from __future__ import annotations

import ipaddress
from functools import cached_property

from pydantic import Field, field_validator, model_validator
from scoreboard_common.settings import CommonSettings


class ApiSettings(CommonSettings):
    """Every variable the api reads. Names are the upper-case field names."""

    database_url: str = Field(
        "postgresql://scoreboard@127.0.0.1:5432/scoreboard",
        description="PostgreSQL DSN (plain `postgresql://`); the api owns this database.",
    )
    jwt_private_key_file: str | None = Field(
        None,
        description="ES256 (P-256) private key PEM used to sign access tokens. The key id is its "
        "RFC 7638 thumbprint. Required unless only an external issuer is trusted.",
    )
    secrets_key_file: str | None = Field(
        None,
        description="Keys that seal the boards' signing keys and webhook secrets in PostgreSQL: "
        "one base64 32-byte key per line, the first seals, all open (docs/security.md, "
        "'Secrets at rest'). Unset, or a path that does not exist: stored unsealed, with a "
        "warning at start.",
    )
    auth_external_issuer: str | None = Field(
        None, description="`iss` of the external OIDC issuer whose JWKS is at AUTH_JWKS_URL."
    )
    auth_external_audience: str | None = Field(
        None, description="`aud` required on external tokens (defaults to AUTH_AUDIENCE)."
    )
    admin_api_key: str | None = Field(
        None,
        min_length=16,
        description="Optional static bearer key granting `scoreboard:admin` (constant-time compare).",
    )
    registration_enabled: bool = Field(True, description="Allow POST /api/v1/auth/register.")
    access_token_ttl_seconds: int = Field(3600, ge=60, le=86400)
    refresh_token_ttl_seconds: int = Field(86400, ge=300, le=30 * 86400)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For is believed (JSON list).",
    )
    cors_allowed_origins: list[str] = Field(default_factory=list, description="JSON list.")
    max_body_bytes: int = Field(16384, ge=256, le=1_048_576)
    db_pool_min_size: int = Field(2, ge=0, le=100)
    db_pool_max_size: int = Field(20, ge=1, le=500)
    db_command_timeout_seconds: float = Field(3.0, gt=0, le=60)
    db_connect_timeout_seconds: float = Field(2.0, gt=0, le=60)
    db_pool_acquire_timeout_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Longest wait for a free pooled connection; then 503 (fail fast when the "
        "pool is exhausted).",
    )
    group_commit: bool = Field(
        True,
        description="Group commit: score writes that arrive while a commit is in flight are "
        "committed together in one statement and one transaction when it returns (each still "
        "answered only after its own commit; no added delay). false: one transaction per write.",
    )
    group_commit_max_batch: int = Field(
        64, ge=1, le=1000, description="Most writes one group commit carries."
    )
    fallback_rate_limit_per_minute: int = Field(
        30, ge=1, description="Per-user limit of each replica while Redis is unreachable."
    )
    auth_rate_limit_per_minute: int = Field(
        600, ge=1, description="Per client IP limit of login/register/refresh calls."
    )
    policy_refresh_seconds: float = Field(
        5.0, gt=0, le=300, description="Full policy reload period (Pub/Sub makes changes instant)."
    )
    top_cache_fresh_ms: int = Field(
        100,
        ge=0,
        le=10_000,
        description="How long a cached /top answer is served without checking Redis for a newer "
        "version (0 = always check). Writes through this replica refresh it at once.",
    )
    health_check_interval_seconds: float = Field(1.0, gt=0, le=60)
    password_hash_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="Password hashes (argon2id) run at once per process, on a dedicated pool: "
        "memory for hashing stays below this times PASSWORD_HASH_MEMORY_KIB whatever the "
        "node's CPU count.",
    )
    password_hash_memory_kib: int = Field(
        7168,
        ge=1024,
        le=1_048_576,
        description="argon2id memory per hash in KiB. The default trio (7 MiB, 5 passes, 1 lane) "
        "is OWASP's small-memory setting, ~7 ms of one core (libsodium's AVX2/AVX-512 code). "
        "Stored hashes made with other "
        "parameters still verify and are re-hashed at the current cost on sign-in.",
    )
    password_hash_time_cost: int = Field(
        5, ge=1, le=100, description="argon2id passes over the memory per hash."
    )
    password_hash_parallelism: int = Field(
        1,
        ge=1,
        le=16,
        description="argon2id lanes per hash, each its own thread: above 1 one hash runs on "
        "several cores and the pool's per-client cap no longer bounds a client's CPU, and "
        "hashes are made by argon2-cffi's slower code (libsodium makes one-lane hashes only).",
    )
    password_hash_queue: int = Field(
        32,
        ge=0,
        le=10_000,
        description="Sign-ins waiting for a hashing thread per process; beyond it 503 "
        "`auth_overloaded` with Retry-After.",
    )
    password_hash_per_client: int = Field(
        4,
        ge=1,
        le=1000,
        description="Sign-ins one client address (IPv6: its /64) may have waiting or running "
        "at once; beyond it 429 `auth_busy`. The queue is served round-robin by client.",
    )
    password_hash_max_wait_seconds: float = Field(
        3.0,
        gt=0,
        le=60,
        description="Longest wait for a hashing thread; then 503 `auth_overloaded`.",
    )

    refresh_token_retention_seconds: int = Field(
        86400,
        ge=0,
        le=90 * 86400,
        description="Expired refresh tokens are deleted this long after they expired (a "
        "background purge every 10 minutes per replica).",
    )
    password_min_length: int = Field(
        10, ge=8, le=256, description="Shortest password accepted at registration."
    )
    password_min_strength: int = Field(
        2,
        ge=0,
        le=4,
        description="Lowest zxcvbn score (0-4) accepted at registration: refuses common "
        "passwords, keyboard patterns, repeats and names. 0 turns the estimate off (length and "
        "username checks stay).",
    )
    login_throttle_free_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins of one account (from any address) before its logins are "
        "refused with 429 `login_throttled` for a growing delay.",
    )
    login_throttle_base_delay_seconds: float = Field(
        1.0, gt=0, le=3600, description="First delay; it doubles with every further failure."
    )
    login_throttle_max_delay_seconds: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="Longest delay: an attacker can keep an account throttled, never locked "
        "for longer than this after their last attempt.",
    )
    login_throttle_forget_seconds: int = Field(
        900, ge=1, le=86400, description="Failures are forgotten this long after the last one."
    )

    webhook_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        le=86400,
        description="Season webhooks: the first retry comes after about this long (with "
        "jitter: between half and all of it); each further one doubles it.",
    )
    webhook_retry_cap_seconds: float = Field(
        3600.0, gt=0, le=86400, description="Season webhooks: the longest wait between attempts."
    )
    webhook_max_age_seconds: float = Field(
        86400.0,
        gt=0,
        le=30 * 86400,
        description="Season webhooks: a delivery not accepted (2xx) this long after the season "
        "ended is marked failed.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Season webhooks: time limit of one POST."
    )
    webhook_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="Season webhooks: how often each replica's delivery worker looks for due "
        "deliveries (a reset through this replica wakes it at once).",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if self.auth_jwks_url and not self.auth_external_issuer:
            raise ValueError("AUTH_JWKS_URL needs AUTH_EXTERNAL_ISSUER")
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        return self

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)
