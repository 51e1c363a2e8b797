"""In-process limit of concurrent connections per client IP (resists connection floods)."""

from __future__ import annotations


class ConnectionLimiter:
    def __init__(self, per_ip: int) -> None:
        self.per_ip = per_ip
        self._counts: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        count = self._counts.get(ip, 0)
        if count >= self.per_ip:
            return False
        self._counts[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
        count = self._counts.get(ip, 0) - 1
        if count > 0:
            self._counts[ip] = count
        else:
            self._counts.pop(ip, None)

    def count(self, ip: str) -> int:
        return self._counts.get(ip, 0)
