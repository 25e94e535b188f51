"""OAuth `state` values for the Shopify and Pinterest flows, over public.begin_oauth() and
public.consume_oauth_state() (service only). Only a hash is stored; a state is bound to the
user, the provider and (Shopify) the shop, lives 10 minutes and is consumed once.
"""
from __future__ import annotations

from typing import Any, Literal

import psycopg

from ..errors import BadRequest

Reason = Literal["unknown", "other_provider", "other_shop", "used", "expired"]
REASONS: tuple[Reason, ...] = ("unknown", "other_provider", "other_shop", "used", "expired")


class OAuthStateError(BadRequest):
    """The callback's state is not one we issued for this flow (reason says why)."""

    code = "invalid_oauth_state"

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


def begin_oauth(conn: psycopg.Connection[Any], user_id: str, provider: str, shop: str | None = None) -> str:
    """A new raw state for this user's flow; put it in the authorize URL and nowhere else."""
    row = conn.execute("select public.begin_oauth(%s, %s, %s) as state", [user_id, provider, shop]).fetchone()
    assert row is not None
    return str(row["state"])


def consume_oauth_state(conn: psycopg.Connection[Any], provider: str, state: str,
                        shop: str | None = None) -> str:
    """The user who began the flow. Raises OAuthStateError for a state that is not valid here.

    Run it in its own savepoint or transaction: a refused state aborts the transaction.
    """
    try:
        with conn.transaction():
            row = conn.execute("select public.consume_oauth_state(%s, %s, %s) as user_id",
                               [provider, state, shop]).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        reason = exc.diag.message_detail
        if reason not in REASONS:
            raise
        raise OAuthStateError(reason, exc.diag.message_primary or "invalid oauth state") from None  # type: ignore[arg-type]
    assert row is not None
    return str(row["user_id"])
