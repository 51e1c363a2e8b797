"""A bounded, paced write load against the score API, recording every attempt (shared by the
chaos and cluster tiers)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from tests.support.waits import seconds_until


class Player(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...


@dataclass
class Attempt:
    action_id: str
    user_id: str
    increment: int
    # The client timestamp sent: a retry of an ambiguous failure resends the SAME body (a
    # different timestamp is a different payload: 409 if the first try had committed).
    timestamp: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    statuses: list[int | str] = field(default_factory=list)  # HTTP status or exception name
    acknowledged: bool = False
    retry_after_missing: int = 0
    latencies: list[float] = field(default_factory=list)


class WriteLoad:
    """Threads submitting scores with fresh action_ids at no more than ``rate`` writes per
    second, bounded by ``max_writes`` and ``duration``. The pace makes the load last as long on
    a fast machine as on a slow one, so a test moves through its phases by waiting on what the
    load has done (``count_after``), then calls ``stop()``; the bounds are only a safety net.
    With ``retry``, a failed write (5xx or a broken connection) is resent with the SAME
    action_id, to the next url, until it is acknowledged or ``retries`` are used up."""

    def __init__(
        self,
        urls: Sequence[str],
        board: str,
        users: Sequence[Player],
        *,
        workers: int = 4,
        max_writes: int = 2000,
        duration: float = 8.0,
        rate: float = 200.0,
        retry: bool = False,
        retries: int = 40,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers``: sent with every request (e.g. the ``Host`` an ingress routes on)."""
        self.urls = list(urls)
        self.board = board
        self.users = list(users)
        self.workers = workers
        self.max_writes = max_writes
        self.duration = duration
        self.interval = workers / rate  # seconds between two writes of one worker
        self.retry = retry
        self.retries = retries
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.events: list[tuple[float, int | str]] = []  # (monotonic, status) of every request
        self.started = 0.0

    def __enter__(self) -> WriteLoad:
        self.started = time.monotonic()
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(self.duration + self.timeout * 3 + 30)
        assert not any(t.is_alive() for t in self._threads), "load threads did not finish"

    def stop(self) -> None:
        self._stop.set()

    def _next(self, index: int) -> Attempt | None:
        with self._lock:
            if len(self.attempts) >= self.max_writes:
                return None
            user = self.users[len(self.attempts) % len(self.users)]
            attempt = Attempt(f"chaos-{uuid.uuid4().hex}", user.user_id, 1 + index % 5)
            attempt.user_id = user.user_id
            self.attempts.append(attempt)
            return attempt

    def _run(self, index: int) -> None:
        clients = [
            httpx.Client(base_url=url, timeout=self.timeout, headers=self.headers)
            for url in self.urls
        ]
        try:
            target = index % len(clients)
            next_at = time.monotonic()
            while not self._stop.is_set() and time.monotonic() - self.started < self.duration:
                if self._stop.wait(max(0.0, next_at - time.monotonic())):
                    return
                next_at = max(next_at + self.interval, time.monotonic() - self.interval)
                attempt = self._next(index)
                if attempt is None:
                    return
                user = next(u for u in self.users if u.user_id == attempt.user_id)
                body = {
                    "action_id": attempt.action_id,
                    "score_increment": attempt.increment,
                    "timestamp": attempt.timestamp,
                }
                for _try in range(self.retries if self.retry else 1):
                    status = self._post(clients[target], attempt, user, body)
                    if status == 200:
                        break
                    target = (target + 1) % len(clients)  # next replica
                    time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def _post(
        self, client: httpx.Client, attempt: Attempt, user: Player, body: dict[str, Any]
    ) -> int | str:
        started = time.monotonic()
        status: int | str
        try:
            response = client.post(
                f"/api/v1/leaderboards/{self.board}/scores", json=body, headers=user.headers
            )
            status = response.status_code
            if status == 200:
                data = response.json()
                assert data["action_id"] == attempt.action_id
                assert data["increment"] == attempt.increment
                attempt.acknowledged = True
            elif status == 503 and "retry-after" not in response.headers:
                attempt.retry_after_missing += 1
        except httpx.HTTPError as error:
            status = type(error).__name__
        attempt.statuses.append(status)
        attempt.latencies.append(time.monotonic() - started)
        with self._lock:
            self.events.append((time.monotonic(), status))
        return status

    # ---- figures ----

    @property
    def acknowledged(self) -> list[Attempt]:
        return [a for a in list(self.attempts) if a.acknowledged]

    def status_counts(self) -> Counter[int | str]:
        return Counter(status for _, status in self.events)

    def count_after(self, mark: float) -> int:
        """How many requests finished after a ``time.monotonic()`` mark."""
        with self._lock:
            return sum(1 for at, _ in self.events if at > mark)

    def wait_acknowledged(self, count: int, timeout: float = 30.0) -> float:
        """Wait until ``count`` writes are acknowledged; returns the seconds it took."""
        return seconds_until(lambda: len(self.acknowledged) >= count, timeout, f"{count} acks")

    def during(self, start: float, end: float) -> Counter[int | str]:
        """Statuses of the requests that finished between two ``time.monotonic()`` marks."""
        return Counter(status for at, status in self.events if start <= at <= end)

    @property
    def elapsed(self) -> float:
        return (max(at for at, _ in self.events) - self.started) if self.events else 0.0

    def acked_sum_by_user(self) -> dict[str, int]:
        sums: dict[str, int] = {}
        for attempt in self.acknowledged:
            sums[attempt.user_id] = sums.get(attempt.user_id, 0) + attempt.increment
        return sums
