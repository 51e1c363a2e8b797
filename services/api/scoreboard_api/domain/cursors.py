"""Opaque keyset cursors of ``GET .../entries`` (DESIGN §3).

A cursor names a position in the board's order, not an offset: the key ``(score, reached_at
in µs, user_id)`` of the entry a page ended (or started) at, and on which side of it the next
page lies (``a``: after, ``A``: at or after, ``b``: before, ``B``: at or before). Paging from
a key never repeats or skips a player whose standing did not change, however the others move.
Encoded as base64url (no padding) of ``1|<kind>|<score>|<µs>|<user id>``; the leading ``1`` is
the format version. Anything else is a 400 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Literal, cast

from scoreboard_common.ranking import MAX_TOTAL

from scoreboard_api.domain.errors import ProblemError

CursorKind = Literal["a", "A", "b", "B"]
CursorKey = tuple[int, int, str]  # (score, reached_at µs, user id)
_VERSION = "1"
_FORMAT = re.compile(r"^1\|([aAbB])\|(\d{1,16})\|(\d{1,16})\|([0-9a-f-]{36})$")
#: The kind that continues on the other side of an empty page (nothing before / after it).
COMPLEMENT: dict[CursorKind, CursorKind] = {"a": "B", "A": "b", "b": "A", "B": "a"}


def invalid_cursor() -> ProblemError:
    return ProblemError(400, "invalid_cursor", "cursor is not one this api returned")


def encode_cursor(kind: CursorKind, key: CursorKey) -> str:
    score, micros, user_id = key
    text = f"{_VERSION}|{kind}|{score}|{micros}|{user_id}"
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[CursorKind, CursorKey]:
    if len(cursor) > 200:
        raise invalid_cursor()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise invalid_cursor() from error
    found = _FORMAT.fullmatch(text)
    if found is None:
        raise invalid_cursor()
    kind, score, micros, user_id = found.groups()
    try:
        canonical = str(uuid.UUID(user_id))
    except ValueError as error:
        raise invalid_cursor() from error
    if canonical != user_id or int(score) > MAX_TOTAL:
        raise invalid_cursor()
    return cast(CursorKind, kind), (int(score), int(micros), user_id)
