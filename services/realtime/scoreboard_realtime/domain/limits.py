"""In-process limits of concurrent connections: per client (IP, or /64 for IPv6) and in total
(resists connection floods; the total bounds a process's memory whatever the addresses)."""

from __future__ import annotations


class ConnectionLimiter:
    def __init__(self, per_ip: int, total: int | None = None) -> None:
        self.per_ip = per_ip
        self.total = total
        self._counts: dict[str, int] = {}
        self._total = 0

    def acquire(self, ip: str) -> bool:
        """Take a slot for ``ip`` (a client group key); False when either limit is reached."""
        return self.try_acquire(ip) is None

    def try_acquire(self, ip: str) -> str | None:
        """None when a slot was taken, else which limit refused: ``ip`` or ``total``."""
        if self.total is not None and self._total >= self.total:
            return "total"
        count = self._counts.get(ip, 0)
        if count >= self.per_ip:
            return "ip"
        self._counts[ip] = count + 1
        self._total += 1
        return None

    def release(self, ip: str) -> None:
        count = self._counts.get(ip, 0) - 1
        if count >= 0:
            self._total -= 1
        if count > 0:
            self._counts[ip] = count
        else:
            self._counts.pop(ip, None)

    def count(self, ip: str) -> int:
        return self._counts.get(ip, 0)

    @property
    def connections(self) -> int:
        return self._total
