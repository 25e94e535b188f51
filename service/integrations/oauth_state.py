"""OAuth `state` values for the Shopify and Pinterest flows, over public.begin_oauth(),
public.consume_oauth_state(), public.await_oauth_confirmation() and
public.take_oauth_confirmation() (service only). Only a hash is stored; a state is bound to the
user, the provider, (Shopify) the shop and (a console flow) the browser session that began it,
lives 10 minutes and is consumed once. A flow begun through the JSON API holds its code at the
callback until the user who began it confirms.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from ..errors import BadRequest

Reason = Literal["unknown", "other_provider", "other_shop", "other_user", "used", "expired"]
REASONS: tuple[Reason, ...] = ("unknown", "other_provider", "other_shop", "other_user", "used", "expired")


class OAuthStateError(BadRequest):
    """The callback's state (or a confirmation) is not one we issued for this flow (reason says why)."""

    code = "invalid_oauth_state"

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


@dataclass(frozen=True)
class ConsumedState:
    id: str
    user_id: str
    # SHA-256 of the console session that began the flow; None when the JSON API began it.
    browser_binding: bytes | None


def begin_oauth(conn: psycopg.Connection[Any], user_id: str, provider: str, shop: str | None = None,
                browser_binding: bytes | None = None) -> str:
    """A new raw state for this user's flow; put it in the authorize URL and nowhere else."""
    row = conn.execute("select public.begin_oauth(%s, %s, %s, %s) as state",
                       [user_id, provider, shop, browser_binding]).fetchone()
    assert row is not None
    return str(row["state"])


def _refused(exc: psycopg.errors.InvalidParameterValue) -> OAuthStateError:
    reason = exc.diag.message_detail
    if reason not in REASONS:
        raise exc
    return OAuthStateError(reason, exc.diag.message_primary or "invalid oauth state")  # type: ignore[arg-type]


def consume_oauth_state(conn: psycopg.Connection[Any], provider: str, state: str,
                        shop: str | None = None) -> ConsumedState:
    """The flow's state row. Raises OAuthStateError for a state that is not valid here.

    Run it in its own savepoint or transaction: a refused state aborts the transaction.
    """
    try:
        with conn.transaction():
            row = conn.execute("select state_id, user_id, browser_binding from public.consume_oauth_state(%s, %s, %s)",
                               [provider, state, shop]).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        raise _refused(exc) from None
    assert row is not None
    binding = row["browser_binding"]
    return ConsumedState(str(row["state_id"]), str(row["user_id"]), bytes(binding) if binding is not None else None)


def await_confirmation(conn: psycopg.Connection[Any], state_id: str, code: str) -> str:
    """Holds a JSON API flow's code; the raw one-time confirmation id for the front end."""
    row = conn.execute("select public.await_oauth_confirmation(%s, %s) as confirmation", [state_id, code]).fetchone()
    assert row is not None
    return str(row["confirmation"])


def take_confirmation(conn: psycopg.Connection[Any], provider: str, confirmation: str,
                      user_id: str) -> tuple[str, str | None]:
    """(code, shop) of a held flow, for the user who began it only; OAuthStateError otherwise."""
    try:
        with conn.transaction():
            row = conn.execute("select code, shop_domain from public.take_oauth_confirmation(%s, %s, %s)",
                               [provider, confirmation, user_id]).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        raise _refused(exc) from None
    assert row is not None
    return str(row["code"]), row["shop_domain"]
