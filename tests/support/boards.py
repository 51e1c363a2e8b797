"""Walking a board's keyset-paged ``entries`` (issue 14) over HTTP, forward and back."""

from __future__ import annotations

from typing import Any

import httpx


def entries_page(
    http: httpx.Client, board: str, limit: int, cursor: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    response = http.get(f"/api/v1/leaderboards/{board}/entries", params=params, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk_entries(
    http: httpx.Client, board: str, limit: int, max_pages: int = 10_000
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every entry paging forward from the top with ``next_cursor``, then every entry paging
    back from the last page with ``prev_cursor`` (returned in rank order)."""
    forward: list[dict[str, Any]] = []
    page = entries_page(http, board, limit)
    assert page["prev_cursor"] is None
    for _ in range(max_pages):
        forward.extend(page["entries"])
        if page["next_cursor"] is None:
            break
        page = entries_page(http, board, limit, page["next_cursor"])
    backward: list[list[dict[str, Any]]] = [page["entries"]]
    for _ in range(max_pages):
        if page["prev_cursor"] is None:
            break
        page = entries_page(http, board, limit, page["prev_cursor"])
        backward.append(page["entries"])
    return forward, [entry for chunk in reversed(backward) for entry in chunk]
