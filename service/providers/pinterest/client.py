"""Pinterest API v5: OAuth with continuous refresh tokens, the user account, boards.

Contract notes (from Pinterest's API v5 documentation): tokens come from `POST /oauth/token` with
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

from ...errors import ProviderAuthError, ProviderUnavailable
from ..http import Transport, json_body, rejected_unless_ok

NAME = "pinterest"
MAX_PAGE_SIZE = 250
# 400 full pages is 100,000 boards, far past any account we serve, and still ends a provider
# whose bookmarks never run out.
MAX_BOARD_PAGES = 400
# The counts land in Postgres integer columns.
MAX_COUNT = 2**31 - 1


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
        raise ProviderUnavailable(NAME, "token answer without access and refresh tokens")
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


def _board(item: Any) -> Board:
    """One item of a boards page. An item off the contract is the provider answering nonsense:
    ProviderUnavailable, never a KeyError or ValueError that reads as our bug."""
    board_id = item.get("id") if isinstance(item, dict) else None
    if not isinstance(board_id, str) or not board_id.strip():
        raise ProviderUnavailable(NAME, "a board without an id")
    return Board(id=board_id, name=_text(item.get("name")) or "", description=_text(item.get("description")),
                 privacy=_text(item.get("privacy")), pin_count=_count(item.get("pin_count")),
                 follower_count=_count(item.get("follower_count")))


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ProviderUnavailable(NAME, "a board with a text field that is not text")
    return value


def _count(value: Any) -> int:
    if value is None:
        return 0
    # bool is an int to Python, not to JSON.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ProviderUnavailable(NAME, "a board whose count is not a whole number in range")
    return value


def _next_bookmark(page: dict[str, Any], seen: set[str]) -> str | None:
    """The next page's bookmark, None after the last page. A bookmark already followed would ask
    for the same pages again and again."""
    bookmark = page.get("bookmark")
    if bookmark is None or bookmark == "":
        return None
    if not isinstance(bookmark, str) or bookmark in seen:
        raise ProviderUnavailable(NAME, "the boards pagination does not progress")
    seen.add(bookmark)
    return bookmark


class PinterestClient:
    def __init__(self, *, client_id: str, client_secret: str, api_base: str, oauth_url: str,
                 timeout: float, session: requests.Session | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_base = api_base.rstrip("/")
        self.oauth_url = oauth_url
        self.http = Transport(NAME, timeout=timeout, session=session)

    def authorize_url(self, *, scopes: str, state: str, redirect_uri: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": scopes, "state": state}, quote_via=quote)
        return f"{self.oauth_url}?{query}"

    def _token_request(self, form: dict[str, str]) -> PinterestGrant:
        now = datetime.now(timezone.utc)
        response = self.http.post(f"{self.api_base}/oauth/token", auth_statuses=(401, 403), data=form,
                                  auth=(self.client_id, self.client_secret), headers={"Accept": "application/json"})
        if response.status_code == 400:
            # A code or refresh token Pinterest no longer honours (invalid_grant and kin).
            raise ProviderAuthError(NAME, "token request refused (400)", status=400)
        rejected_unless_ok(response, NAME, "token request")
        return _grant(json_body(response, NAME), now)

    def exchange_code(self, code: str, redirect_uri: str) -> PinterestGrant:
        return self._token_request({"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": redirect_uri, "continuous_refresh": "true"})

    def refresh(self, refresh_token: str) -> PinterestGrant:
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                    "continuous_refresh": "true"})

    def _get(self, access_token: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.http.get(f"{self.api_base}{path}", params=params,
                                 headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        rejected_unless_ok(response, NAME, f"GET {path}")
        return json_body(response, NAME)

    def user_account(self, access_token: str) -> dict[str, Any]:
        account = self._get(access_token, "/user_account")
        if not isinstance(account, dict) or not account.get("username"):
            raise ProviderUnavailable(NAME, "user_account answered without a username")
        return account

    def boards(self, access_token: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[Board]:
        """Every board, following `bookmark` to the last page; a page that cannot be read or a
        bookmark that does not progress is ProviderUnavailable, not a sync that never ends."""
        bookmark: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_BOARD_PAGES):
            params: dict[str, Any] = {"page_size": min(page_size, MAX_PAGE_SIZE)}
            if bookmark:
                params["bookmark"] = bookmark
            page = self._get(access_token, "/boards", params)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderUnavailable(NAME, "boards page without items")
            yield from (_board(item) for item in items)
            bookmark = _next_bookmark(page, seen)
            if bookmark is None:
                return
        raise ProviderUnavailable(NAME, f"more than {MAX_BOARD_PAGES} pages of boards")
