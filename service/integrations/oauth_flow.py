"""The steps every OAuth provider's flow shares: start (state, `connecting`, the consent screen),
tell whether a callback came back to the browser that began it, hold a JSON API flow for its
user's confirmation, refuse a callback (an error code for the front end), and where the browser
goes (the console's integrations page under APP_URL)."""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

from flask import Response, redirect
from pydantic import BaseModel, Field

from ..api import Strict
from ..config import Settings
from ..console import sessions
from ..context import services
from ..errors import Conflict, NotFound
from . import records
from .oauth_state import ConsumedState, OAuthStateError, await_confirmation, begin_oauth

log = logging.getLogger(__name__)
Arrival = Literal["same_browser", "other_browser", "api_flow"]


class AuthorizeUrl(BaseModel):
    authorize_url: str


class ConfirmRequest(Strict):
    confirmation: str = Field(min_length=1, max_length=200,
                              description="the `confirm` value the callback sent the front end")


class Confirmed(BaseModel):
    provider: str
    connected: bool


def callback_url(settings: Settings, provider: str) -> str:
    """The redirect URI registered with the provider (on this service's public URL)."""
    return f"{settings.public_base_url}/api/integrations/{provider}/callback"


def front_end(settings: Settings, **outcome: str) -> str:
    """The console's integrations page, with `success=`, `error=` or `confirm=` (never a secret;
    a confirmation id is useless to anyone but the account that began the flow)."""
    return f"{settings.front_end_url}/console/integrations?{urlencode(outcome)}"


def start(user_id: str, provider: str, authorize_url: Callable[[str], str], *, as_json: bool,
          shop: str | None = None, metadata: Mapping[str, Any] | None = None,
          browser_binding: bytes | None = None) -> AuthorizeUrl | Response:
    """Issues the single-use state, marks the integration connecting, and sends the user on.

    `browser_binding`: the console session's hash, so only that browser can finish the flow."""
    with services().db.as_service() as conn:
        state = begin_oauth(conn, user_id, provider, shop, browser_binding)
        records.mark_connecting(conn, user_id, provider, metadata)
    url = authorize_url(state)
    return AuthorizeUrl(authorize_url=url) if as_json else redirect(url, code=302)


def arrival(consumed: ConsumedState) -> Arrival:
    """Where a callback landed: in the signed-in console session that began the flow, in another
    browser (or another session, or signed out), or at the end of a JSON API flow."""
    if consumed.browser_binding is None:
        return "api_flow"
    raw = sessions.raw_id()
    if raw is None or not hmac.compare_digest(sessions.digest(raw), consumed.browser_binding):
        return "other_browser"
    session = sessions.current()
    if session is None or session.user_id != consumed.user_id:
        return "other_browser"
    return "same_browser"


def hold_for_confirmation(provider: str, consumed: ConsumedState, code: str) -> Response:
    """A JSON API flow's callback: nothing is connected yet; the code waits for the user who began
    the flow to confirm (POST /api/integrations/<provider>/confirm, or the console's page)."""
    with services().db.as_service() as conn:
        confirmation = await_confirmation(conn, consumed.id, code)
    log.info("%s callback held for the confirmation of user %s", provider, consumed.user_id)
    return redirect(front_end(services().settings, confirm=confirmation, provider=provider), code=302)


def refuse(provider: str, code: str, user_id: str | None = None, detail: str | None = None) -> Response:
    """Ends a callback with `?error=<code>`; with a known user, records it on the integration."""
    if user_id is not None:
        with services().db.as_service() as conn:
            records.mark_error(conn, user_id, provider, detail or code.replace("_", " "), keep_connected=True)
    log.warning("%s callback refused: %s", provider, code)
    return redirect(front_end(services().settings, error=code, provider=provider), code=302)


def other_browser(provider: str, consumed: ConsumedState) -> Response:
    """The flow was finished in a browser other than the one that began it: nothing connects."""
    return refuse(provider, "other_browser", consumed.user_id,
                  "the connection was finished in another browser and was refused")


CONFIRM_DESCRIPTION = ("Only the user who began the install may confirm it. 404 `confirmation_not_found`: no "
                       "connection of the caller's waits under that confirmation (another user's answers the "
                       "same); 409 `confirmation_spent` (details.reason used|expired), or 409 with the "
                       "callback's error codes when the provider cannot be connected.")


def confirm_through_api(provider: str, label: str, confirm_install: Callable[[str, str], str | None],
                        user_id: str, confirmation: str) -> Confirmed:
    """POST /api/integrations/<provider>/confirm: the JSON API's answer to a held flow. A
    confirmation is state, not input: an unknown one is a 404 (another user's too, so nobody
    learns that it exists), a spent one a 409."""
    try:
        failure = confirm_install(user_id, confirmation)
    except OAuthStateError as refused:
        if refused.reason in ("unknown", "other_user"):
            raise NotFound(f"no {label} connection of yours waits under that confirmation",
                           code="confirmation_not_found") from None
        raise Conflict(f"that {label} confirmation was {refused.reason} already; connect again",
                       code="confirmation_spent", details={"reason": refused.reason}) from None
    if failure is not None:
        raise Conflict(f"{label} could not be connected: {failure.replace('_', ' ')}", code=failure)
    return Confirmed(provider=provider, connected=True)
