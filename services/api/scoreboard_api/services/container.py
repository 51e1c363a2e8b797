"""Everything a request handler needs, built once per process by the app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore
from scoreboard_common.revocation import RevocationList

from scoreboard_api.adapters.monitor import DependencyMonitor
from scoreboard_api.adapters.pg_scores import Committer
from scoreboard_api.adapters.policy_cache import PolicyCache
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import RedisSide
from scoreboard_api.domain.credentials import LoginThrottle, MemoryLoginThrottle, PasswordPolicy
from scoreboard_api.domain.ratelimit import MemoryLimiter
from scoreboard_api.domain.tokens import TokenIssuer
from scoreboard_api.services.auth import Authenticator
from scoreboard_api.services.hashing import HashPool
from scoreboard_api.services.passwords import Passwords
from scoreboard_api.settings import ApiSettings


@dataclass
class Container:
    settings: ApiSettings
    db: Database
    redis: Redis
    store: BoardStore
    side: RedisSide
    policies: PolicyCache
    monitor: DependencyMonitor
    auth: Authenticator
    issuer: TokenIssuer | None
    hashes: HashPool
    passwords: Passwords
    password_policy: PasswordPolicy
    login_throttle: LoginThrottle
    login_fallback: MemoryLoginThrottle
    revocations: RevocationList
    committer: Committer
    fallback_limiter: MemoryLimiter = field(default_factory=MemoryLimiter)
    top_cache: dict[tuple[str, int], tuple[int, bytes]] = field(default_factory=dict)
    # When each cached /top was last confirmed current against Redis (monotonic seconds).
    top_checked: dict[tuple[str, int], float] = field(default_factory=dict)
    # Set when this replica queued a webhook delivery: its worker skips the poll wait.
    webhooks_due: asyncio.Event = field(default_factory=asyncio.Event)
    # The /top keys a request is confirming against Redis right now (one at a time).
    top_revalidating: set[tuple[str, int]] = field(default_factory=set)
    # Bumped by every forget_top: a /top confirmed before the bump is not fresh after it.
    top_epoch: int = 0

    def forget_top(self, board: str) -> None:
        """This replica changed the board: the next /top must look at Redis again."""
        self.top_epoch += 1  # a revalidation in flight must not mark its older answer fresh
        for key in [k for k in self.top_checked if k[0] == board]:
            self.top_checked.pop(key, None)
