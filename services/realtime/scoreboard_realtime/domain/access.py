"""Who may stay connected: the grant a signed-in client was admitted with, the close codes the
feed uses, and :func:`refusal` (re-checked while the client stays connected)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_BOARD = 4404


@dataclass(frozen=True, slots=True)
class Grant:
    """What authorised a signed-in client, re-checked while it stays connected."""

    account_id: str  # the user id that accounts are disabled by
    expires_at: float | None  # epoch seconds of the token's `exp`
    session_id: str | None  # the token's `sid` (revoked by a logout)


class Revocations(Protocol):
    def user_disabled(self, user_id: str | None) -> bool: ...

    def session_revoked(self, session_id: str | None) -> bool: ...


def refusal(
    grant: Grant | None, now: float, revocations: Revocations
) -> tuple[int, str, str] | None:
    """``(close code, reason, metric label)`` if ``grant`` no longer authorises, else None."""
    if grant is None:
        return None
    if revocations.user_disabled(grant.account_id):
        return CLOSE_FORBIDDEN, "account disabled", "account_disabled"
    if revocations.session_revoked(grant.session_id):
        return CLOSE_UNAUTHORIZED, "session ended", "session_revoked"
    if grant.expires_at is not None and grant.expires_at <= now:
        return CLOSE_UNAUTHORIZED, "token expired", "token_expired"
    return None
