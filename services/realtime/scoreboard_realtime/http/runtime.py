"""What the HTTP layer needs at run time, created in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from scoreboard_common.auth import TokenVerifier
from scoreboard_common.revocation import RevocationList

from scoreboard_realtime.adapters.subscriber import Subscriber
from scoreboard_realtime.domain.hub import Hub
from scoreboard_realtime.domain.limits import ConnectionLimiter
from scoreboard_realtime.http.direct import SocketSizing
from scoreboard_realtime.settings import RealtimeSettings


@dataclass
class Runtime:
    settings: RealtimeSettings
    redis: Redis
    pubsub_redis: Redis
    hub: Hub
    subscriber: Subscriber
    verifier: TokenVerifier | None
    limiter: ConnectionLimiter
    revocations: RevocationList
    sizing: SocketSizing = field(init=False)

    def __post_init__(self) -> None:
        self.sizing = SocketSizing(
            write_high_water=self.settings.ws_write_high_water_bytes,
            send_buffer=self.settings.ws_socket_send_buffer_bytes,
            receive_buffer=self.settings.ws_socket_receive_buffer_bytes,
        )
