"""Pinterest API v5: OAuth with continuous refresh tokens, the user account, boards.

Contract notes (docs/providers.md has the sources): tokens come from `POST /oauth/token` with
HTTP Basic client credentials and a form body; every refresh returns a new refresh token that
replaces the old one; `GET /boards` pages with `bookmark` (null on the last page) and
`page_size` up to 250; errors are `{"code": …, "message": …}`; rate limits answer 429.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import requests

from . import ProviderAuthError, ProviderRejected, ProviderUnavailable
from .http import json_body, send

PROVIDER = "pinterest"
MAX_PAGE_SIZE = 250


@dataclass(frozen=True)
class PinterestGrant:
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_token_expires_at: datetime | None
    scopes: list[str]


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    description: str | None
    privacy: str | None
    pin_count: int
    follower_count: int


def _grant(body: Any, now: datetime) -> PinterestGrant:
    if not isinstance(body, dict) or not body.get("access_token") or not body.get("refresh_token"):
        raise ProviderUnavailable(PROVIDER, "token answer without access and refresh tokens")
    refresh_expires: datetime | None = None
    if isinstance(body.get("refresh_token_expires_at"), (int, float)):
        refresh_expires = datetime.fromtimestamp(body["refresh_token_expires_at"], timezone.utc)
    elif isinstance(body.get("refresh_token_expires_in"), (int, float)):
        refresh_expires = now + timedelta(seconds=body["refresh_token_expires_in"])
    return PinterestGrant(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]),
        expires_at=now + timedelta(seconds=int(body.get("expires_in") or 0)),
        refresh_token_expires_at=refresh_expires,
        scopes=[s for s in str(body.get("scope") or "").split(",") if s],
    )


class PinterestClient:
    def __init__(self, *, client_id: str, client_secret: str, api_base: str, oauth_url: str,
                 timeout: float, session: requests.Session | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_base = api_base.rstrip("/")
        self.oauth_url = oauth_url
        self.timeout = timeout
        self.session = session or requests.Session()

    def authorize_url(self, *, scopes: str, state: str, redirect_uri: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": scopes, "state": state}, quote_via=quote)
        return f"{self.oauth_url}?{query}"

    def _token_request(self, form: dict[str, str]) -> PinterestGrant:
        now = datetime.now(timezone.utc)
        response = send(self.session, PROVIDER, "POST", f"{self.api_base}/oauth/token", timeout=self.timeout,
                        auth_statuses=(401, 403), data=form, auth=(self.client_id, self.client_secret),
                        headers={"Accept": "application/json"})
        if response.status_code == 400:
            # A code or refresh token Pinterest no longer honours (invalid_grant and kin).
            raise ProviderAuthError(PROVIDER, "token request refused (400)", status=400)
        if not response.ok:
            raise ProviderRejected(PROVIDER, f"token request refused ({response.status_code})",
                                   status=response.status_code)
        return _grant(json_body(response, PROVIDER), now)

    def exchange_code(self, code: str, redirect_uri: str) -> PinterestGrant:
        return self._token_request({"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": redirect_uri, "continuous_refresh": "true"})

    def refresh(self, refresh_token: str) -> PinterestGrant:
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                    "continuous_refresh": "true"})

    def _get(self, access_token: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = send(self.session, PROVIDER, "GET", f"{self.api_base}{path}", timeout=self.timeout,
                        params=params, headers={"Authorization": f"Bearer {access_token}",
                                                "Accept": "application/json"})
        if not response.ok:
            raise ProviderRejected(PROVIDER, f"GET {path} refused ({response.status_code})",
                                   status=response.status_code)
        return json_body(response, PROVIDER)

    def user_account(self, access_token: str) -> dict[str, Any]:
        account = self._get(access_token, "/user_account")
        if not isinstance(account, dict) or not account.get("username"):
            raise ProviderUnavailable(PROVIDER, "user_account answered without a username")
        return account

    def boards(self, access_token: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[Board]:
        """Every board, following `bookmark` to the last page."""
        bookmark: str | None = None
        while True:
            params: dict[str, Any] = {"page_size": min(page_size, MAX_PAGE_SIZE)}
            if bookmark:
                params["bookmark"] = bookmark
            page = self._get(access_token, "/boards", params)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderUnavailable(PROVIDER, "boards page without items")
            for item in items:
                yield Board(id=str(item["id"]), name=str(item.get("name") or ""),
                            description=item.get("description"), privacy=item.get("privacy"),
                            pin_count=int(item.get("pin_count") or 0),
                            follower_count=int(item.get("follower_count") or 0))
            bookmark = page.get("bookmark")
            if not bookmark:
                return
