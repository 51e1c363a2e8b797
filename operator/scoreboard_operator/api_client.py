"""Async client of the api's admin endpoints (DESIGN §3 "Admin"), with typed errors.

Errors map to what the operator does about them:

- :class:`ApiUnavailable` — connection refused, timeout, HTTP 5xx/429: retry with backoff.
- :class:`ApiUnauthorized` — HTTP 401/403: the operator's token is wrong; retry (slowly).
- :class:`ApiRejected` — other HTTP 4xx: the api refuses this spec; fix the spec.
- :class:`ApiNotFound` — HTTP 404 on a board.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

ADMIN_PREFIX = "/api/v1/admin/leaderboards"


class ApiError(Exception):
    """Any failure talking to the api; ``reason`` is a condition reason."""

    reason = "ApiError"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class ApiUnavailable(ApiError):
    reason = "ApiUnavailable"


class ApiUnauthorized(ApiError):
    reason = "ApiUnauthorized"


class ApiRejected(ApiError):
    reason = "ApiRejected"


class ApiNotFound(ApiRejected):
    reason = "BoardNotFound"


@dataclass(frozen=True)
class BoardStats:
    """What ``GET .../stats`` reports, under the api's own names (its ``StatsResponse``; a unit
    test keeps the two in step). Unknown members are kept in ``raw``."""

    players: int | None = None
    top_score: int | None = None
    season: int | None = None
    generation: int | None = None
    last_reset: str | None = None
    updates_per_minute: float | None = None
    fraud_events: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoardStats:
        def integer(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        upm = data.get("updates_per_minute")
        return cls(
            players=integer("players"),
            top_score=integer("top_score"),
            season=integer("season"),
            generation=integer("generation"),
            last_reset=_text(data.get("last_reset")),
            updates_per_minute=float(upm)
            if isinstance(upm, int | float) and not isinstance(upm, bool)
            else None,
            fraud_events=integer("fraud_events"),
            raw=dict(data),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _problem(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from an RFC 9457 problem document, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase, None
    if isinstance(body, Mapping):
        detail = body.get("detail") or body.get("title") or str(body)[:300]
        code = body.get("code")
        return str(detail), str(code) if code is not None else None
    return str(body)[:300], None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def raise_for_response(response: httpx.Response, what: str) -> None:
    """Turn a non-2xx response into the matching :class:`ApiError`."""
    if response.is_success:
        return
    message, code = _problem(response)
    text = f"{what}: HTTP {response.status_code}: {message}"
    status = response.status_code
    kwargs: dict[str, Any] = {"status": status, "code": code, "retry_after": _retry_after(response)}
    if status >= 500 or status in (408, 429):
        raise ApiUnavailable(text, **kwargs)
    if status in (401, 403):
        raise ApiUnauthorized(text, **kwargs)
    if status == 404:
        raise ApiNotFound(text, **kwargs)
    raise ApiRejected(text, **kwargs)


class AdminApi:
    """The admin endpoints the operator uses. One instance per operator process."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_reachable: Callable[[bool], None] | None = None,
    ) -> None:
        """``on_reachable`` hears after every call whether the api answered (any response
        but a 5xx/408/429) or not (connection failure, timeout, unavailable)."""
        self._on_reachable = on_reachable or (lambda _up: None)
        headers = {"Accept": "application/json", "User-Agent": "scoreboard-operator"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _path(name: str, suffix: str = "") -> str:
        return f"{ADMIN_PREFIX}/{quote(name, safe='')}{suffix}"

    async def _request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            try:
                response = await self._client.request(method, url, **kwargs)
            except httpx.TimeoutException as error:
                raise ApiUnavailable(f"{what}: timed out ({type(error).__name__})") from error
            except httpx.TransportError as error:
                raise ApiUnavailable(f"{what}: {type(error).__name__}: {error}") from error
            raise_for_response(response, what)
        except ApiUnavailable:
            self._on_reachable(False)
            raise
        except ApiError:
            self._on_reachable(True)
            raise
        self._on_reachable(True)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"value": data}

    async def put_board(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update a board's policy (idempotent; carries the CR's generation)."""
        r = await self._request("PUT", self._path(name), f"PUT board {name}", json=dict(payload))
        return self._json(r)

    async def get_board(self, name: str) -> dict[str, Any] | None:
        """The api's view of the board (``GET /api/v1/leaderboards/{name}``: generation, season,
        players and the public policy), ``None`` when the api has no such board, ``{}`` when the
        view is not readable with this token (nothing to compare then)."""
        try:
            r = await self._request(
                "GET", f"/api/v1/leaderboards/{quote(name, safe='')}", f"GET board {name}"
            )
        except ApiNotFound:
            return None
        except ApiUnauthorized:
            return {}
        return self._json(r)

    async def stats(self, name: str) -> BoardStats:
        r = await self._request("GET", self._path(name, "/stats"), f"GET stats of {name}")
        return BoardStats.from_json(self._json(r))

    async def reset(self, name: str, season: int) -> dict[str, Any]:
        """Archive the current season and start ``season`` (idempotent per season id)."""
        r = await self._request(
            "POST", self._path(name, "/reset"), f"reset {name}", json={"season": int(season)}
        )
        return self._json(r)

    async def delete_board(self, name: str, *, archive: bool = True) -> bool:
        """Retire the board; ``False`` when the api did not know it (already gone)."""
        try:
            await self._request(
                "DELETE",
                self._path(name),
                f"DELETE board {name}",
                params={"archive": "true" if archive else "false"},
            )
        except ApiNotFound:
            return False
        return True

    async def healthy(self) -> bool:
        """``GET /healthz`` answered 200."""
        try:
            r = await self._client.get("/healthz")
        except httpx.HTTPError:
            return False
        return r.status_code == 200
