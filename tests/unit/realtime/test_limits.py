from __future__ import annotations

from scoreboard_realtime.domain.limits import ConnectionLimiter


def test_per_ip_limit() -> None:
    limiter = ConnectionLimiter(2)
    assert limiter.acquire("a") and limiter.acquire("a")
    assert not limiter.acquire("a")
    assert limiter.acquire("b")
    limiter.release("a")
    assert limiter.acquire("a")
    limiter.release("a")
    limiter.release("a")
    assert limiter.count("a") == 0
