"""Domain records for tests that call the api's adapters directly (no HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scoreboard_api.domain.scoring import Submission, Write


def increment_write(board: str, user_id: str, points: int, action_id: str | None = None) -> Write:
    """A submission of ``points`` to an increment board, as the service hands it to the
    adapters."""
    submission = Submission(
        action_id or f"act-{uuid.uuid4().hex}",
        datetime.now(UTC),
        None,
        points,
        user_id,
        board=board,
        client_ip="10.0.0.1",
    )
    return Write(
        submission=submission,
        season=1,
        operator="increment",
        order="desc",
        value=points,
        points=points,
        metadata_json=None,
        username=None,
    )
