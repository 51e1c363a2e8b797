"""The HTTP side of season webhooks: one signed POST, SSRF-conscious.

- The URL is admin-controlled (a Leaderboard's spec or an admin PUT); the api calls it from
  inside the cluster, so docs/operator.md tells admins to restrict who may write Leaderboards
  and to use an egress NetworkPolicy.
- Redirects are never followed (a 3xx is a failed attempt), so a receiver cannot bounce the
  call to an internal address.
- At most :data:`MAX_RESPONSE_BYTES` of the response are read; only its status is kept.
- Nothing here logs or returns the secret, the signature or the body.
"""

from __future__ import annotations

import time

import httpx

from scoreboard_api.domain.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Outcome,
    signature_header,
)

MAX_RESPONSE_BYTES = 4096
USER_AGENT = "scoreboard-webhooks/1"


class WebhookSender:
    def __init__(
        self, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, secret: str, delivery: str, body: bytes) -> Outcome:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery,
            SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        }
        try:
            async with self._client.stream("POST", url, content=body, headers=headers) as response:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_RESPONSE_BYTES:
                        break
                status = response.status_code
        except httpx.TimeoutException as error:
            return Outcome(None, f"timed out ({type(error).__name__})")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            return Outcome(None, f"{type(error).__name__}: {str(error)[:200]}")
        if 300 <= status < 400:
            return Outcome(status, "redirects are not followed")
        return Outcome(status)
