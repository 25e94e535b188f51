"""The steps every OAuth provider's flow shares: start (state, `connecting`, the consent screen),
refuse a callback (an error code for the front end), and where the browser goes."""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect
from pydantic import BaseModel

from ..context import services
from ..config import Settings
from . import records
from .oauth_state import begin_oauth

log = logging.getLogger(__name__)


class AuthorizeUrl(BaseModel):
    authorize_url: str


def callback_url(settings: Settings, provider: str) -> str:
    """The redirect URI registered with the provider (on this service's public URL)."""
    return f"{settings.public_base_url}/api/integrations/{provider}/callback"


def front_end(settings: Settings, **outcome: str) -> str:
    """The front end's integrations page, with `success=` or `error=` (a code, never a secret)."""
    return f"{settings.front_end_url}/dashboard/settings/integrations?{urlencode(outcome)}"


def start(user_id: str, provider: str, authorize_url: Callable[[str], str], *, as_json: bool,
          shop: str | None = None, metadata: Mapping[str, Any] | None = None) -> AuthorizeUrl | Response:
    """Issues the single-use state, marks the integration connecting, and sends the user on."""
    with services().db.as_service() as conn:
        state = begin_oauth(conn, user_id, provider, shop)
        records.mark_connecting(conn, user_id, provider, metadata)
    url = authorize_url(state)
    return AuthorizeUrl(authorize_url=url) if as_json else redirect(url, code=302)


def refuse(provider: str, code: str, user_id: str | None = None, detail: str | None = None) -> Response:
    """Ends a callback with `?error=<code>`; with a known user, records it on the integration."""
    if user_id is not None:
        with services().db.as_service() as conn:
            records.mark_error(conn, user_id, provider, detail or code.replace("_", " "), keep_connected=True)
    log.warning("%s callback refused: %s", provider, code)
    return redirect(front_end(services().settings, error=code), code=302)
