"""A login flood from one client, run as its own process so the test's own timings are not
skewed by it: ``python -m tests.integration.security.flood URL USERNAME PASSWORD CONCURRENCY
STOP_FILE MAX_SECONDS``. Each of CONCURRENCY tasks keeps one login in flight (re-sending at
once, as an attacker would, ignoring Retry-After) until STOP_FILE exists or MAX_SECONDS pass;
prints ``{"status code": count, ..., "codes": {...}}`` as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx


async def flood(
    url: str, username: str, password: str, concurrency: int, stop: Path, max_seconds: float
) -> dict[str, object]:
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    retry_after_missing = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:

        async def worker() -> None:
            nonlocal retry_after_missing
            body = {"username": username, "password": password}
            while time.monotonic() < deadline and not stop.exists():
                try:
                    response = await client.post("/api/v1/auth/login", json=body)
                except httpx.HTTPError as error:
                    statuses[type(error).__name__] += 1
                    continue
                statuses[str(response.status_code)] += 1
                if response.status_code != 200:
                    codes[str(response.json().get("code"))] += 1
                    if "retry-after" not in response.headers:
                        retry_after_missing += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"statuses": dict(statuses), "codes": dict(codes), "no_retry_after": retry_after_missing}


def main() -> None:
    url, username, password, concurrency, stop, max_seconds = sys.argv[1:7]
    # A real attacker's CPU is not the server's: on a shared test machine the flooding client
    # must not take the cores the api needs, or it measures itself.
    os.nice(19)
    result = asyncio.run(
        flood(url, username, password, int(concurrency), Path(stop), float(max_seconds))
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
