"""Pinterest API v5: OAuth with continuous refresh tokens, the user account, boards, pins, their
analytics, the account's analytics and ad accounts.

Contract notes (from Pinterest's API v5 documentation): tokens come from `POST /oauth/token` with
HTTP Basic client credentials and a form body; every refresh returns a new refresh token that
replaces the old one; lists (`GET /boards`, `/pins`, `/ad_accounts`) page with `bookmark` (null on
the last page) and `page_size` up to 250; errors are `{"code": …, "message": …}`; rate limits
answer 429 (`X-RateLimit-Reset`: seconds until the window resets). Analytics
(`GET /pins/{id}/analytics`, `GET /user_account/analytics`) answer `{"all": {"daily_metrics":
[{"date", "data_status", "metrics": {…}}], …}}` for dates (UTC) no more than 90 days back; a pin's
are served only for pins the token's account owns (or on a group board shared with it; an
`ad_account_id` would act for that ad account's owner, which Haven does not use).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import requests

from ...errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from ..http import Transport, json_body, rejected_unless_ok, safe_code

NAME = "pinterest"
MAX_PAGE_SIZE = 250
# 400 full pages is 100,000 boards, far past any account we serve, and still ends a provider
# whose bookmarks never run out.
MAX_BOARD_PAGES = 400
# Pins: 400 pages of 250 is 100,000 pins; ad accounts: 20 pages of 250 is past any business.
MAX_PIN_PAGES = 400
MAX_AD_ACCOUNT_PAGES = 20
# The counts land in Postgres integer columns; daily metrics in bigint ones.
MAX_COUNT = 2**31 - 1
MAX_METRIC = 2**63 - 1
# Pinterest serves analytics for dates no more than this many days back from today (UTC).
ANALYTICS_DAYS = 90
PIN_METRICS = ("IMPRESSION", "SAVE", "PIN_CLICK", "ENGAGEMENT")
ACCOUNT_METRICS = ("IMPRESSION", "PIN_CLICK")
# Days whose figures Pinterest has (final, or estimated for the latest days); the other statuses
# (PROCESSING, BEFORE_PIN_CREATED, BEFORE_DATA_RETENTION_PERIOD, …) carry none yet.
DAYS_WITH_DATA = frozenset({"READY", "ESTIMATE"})
# A refusal's message is kept this long: enough to say why, short enough for a list.
MAX_REASON_CHARS = 300
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")
T = TypeVar("T")


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


@dataclass(frozen=True)
class Pin:
    id: str
    board_id: str | None
    title: str | None
    description: str | None
    link: str | None
    image_url: str | None
    alt_text: str | None
    created_at: str | None


@dataclass(frozen=True)
class PinDay:
    """One day of a pin's own figures."""

    date: str
    impressions: int
    saves: int
    clicks: int
    engagement_rate: Decimal


@dataclass(frozen=True)
class AccountDay:
    date: str
    impressions: int
    clicks: int


@dataclass(frozen=True)
class AdAccount:
    id: str
    name: str | None
    currency: str | None
    country: str | None


@dataclass(frozen=True)
class CreatedPin:
    id: str
    created_at: datetime | None


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


def _next_bookmark(page: dict[str, Any], seen: set[str], what: str = "boards") -> str | None:
    """The next page's bookmark, None after the last page. A bookmark already followed would ask
    for the same pages again and again."""
    bookmark = page.get("bookmark")
    if bookmark is None or bookmark == "":
        return None
    if not isinstance(bookmark, str) or bookmark in seen:
        raise ProviderUnavailable(NAME, f"the {what} pagination does not progress")
    seen.add(bookmark)
    return bookmark


def _field(item: dict[str, Any], key: str, what: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ProviderUnavailable(NAME, f"{what} with a text field that is not text")
    return value


def _id(item: Any, what: str) -> str:
    value = item.get("id") if isinstance(item, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise ProviderUnavailable(NAME, f"{what} without an id")
    return value


def _pin(item: Any) -> Pin:
    pin_id = _id(item, "a pin")
    media = item.get("media")
    image_url: str | None = None
    if isinstance(media, dict):
        images = media.get("images")
        if isinstance(images, dict):
            # The largest rendition Pinterest lists; videos carry a cover image instead.
            for size in ("1200x", "600x", "400x300", "150x150"):
                rendition = images.get(size)
                if isinstance(rendition, dict) and isinstance(rendition.get("url"), str):
                    image_url = rendition["url"]
                    break
        if image_url is None and isinstance(media.get("cover_image_url"), str):
            image_url = media["cover_image_url"]
    return Pin(id=pin_id, board_id=_field(item, "board_id", "a pin"), title=_field(item, "title", "a pin"),
               description=_field(item, "description", "a pin"), link=_field(item, "link", "a pin"),
               image_url=image_url, alt_text=_field(item, "alt_text", "a pin"),
               created_at=_field(item, "created_at", "a pin"))


def _metric(metrics: dict[str, Any], key: str) -> int:
    """A day's count: Pinterest sends whole numbers, sometimes as 12.0; absent is 0."""
    value = metrics.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ProviderUnavailable(NAME, f"a daily {key} that is not a number")
    if not 0 <= value <= MAX_METRIC or int(value) != value:
        raise ProviderUnavailable(NAME, f"a daily {key} that is not a whole number in range")
    return int(value)


def _days(body: Any, keep: Callable[[str, dict[str, Any]], T]) -> list[T]:
    """The days with data of an analytics answer (`{"all": {"daily_metrics": […]}}`)."""
    section = body.get("all") if isinstance(body, dict) else None
    daily = section.get("daily_metrics") if isinstance(section, dict) else None
    if daily is None and isinstance(section, dict):
        return []  # no day at all (a pin with no activity yet)
    if not isinstance(daily, list):
        raise ProviderUnavailable(NAME, "an analytics answer without daily metrics")
    days: list[T] = []
    for entry in daily:
        if not isinstance(entry, dict) or not isinstance(entry.get("date"), str):
            raise ProviderUnavailable(NAME, "an analytics day without a date")
        try:
            day = date.fromisoformat(entry["date"])
        except ValueError:
            raise ProviderUnavailable(NAME, "an analytics day whose date is not YYYY-MM-DD") from None
        metrics = entry.get("metrics")
        if entry.get("data_status") not in DAYS_WITH_DATA or not isinstance(metrics, dict):
            continue
        days.append(keep(day.isoformat(), metrics))
    return days


def _pin_day(day: str, metrics: dict[str, Any]) -> PinDay:
    impressions, saves, clicks = _metric(metrics, "IMPRESSION"), _metric(metrics, "SAVE"), _metric(metrics, "PIN_CLICK")
    engagements = _metric(metrics, "ENGAGEMENT") if "ENGAGEMENT" in metrics else saves + clicks
    rate = Decimal(engagements) / Decimal(impressions) if impressions else Decimal(0)
    # numeric(9, 6): a rate past 999 is nonsense, but must not fail the day's write.
    rate = min(rate, Decimal("999.999999")).quantize(Decimal("0.000001"))
    return PinDay(day, impressions, saves, clicks, rate)


def _account_day(day: str, metrics: dict[str, Any]) -> AccountDay:
    return AccountDay(day, _metric(metrics, "IMPRESSION"), _metric(metrics, "PIN_CLICK"))


def _ad_account(item: Any) -> AdAccount:
    return AdAccount(id=_id(item, "an ad account"), name=_field(item, "name", "an ad account"),
                     currency=_field(item, "currency", "an ad account"),
                     country=_field(item, "country", "an ad account"))


def refusal_reason(response: requests.Response, access_token: str) -> str:
    """Why Pinterest refused a request, to show the user: the status, its error code and its
    message (what a user needs to fix a pin: a blocked link, an image it cannot fetch), printable,
    cut short, and never carrying the token."""
    code, message = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = safe_code(body.get("code")) if body.get("code") is not None else ""
        if isinstance(body.get("message"), str):
            message = _UNPRINTABLE.sub(" ", body["message"]).replace(access_token, "…").strip()
    reason = f"{response.status_code}" + (f", code {code}" if code else "")
    if message:
        reason += f": {message}"
    return reason[:MAX_REASON_CHARS]


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

    @staticmethod
    def _headers(access_token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

    def _get(self, access_token: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.http.get(f"{self.api_base}{path}", params=params, headers=self._headers(access_token))
        rejected_unless_ok(response, NAME, f"GET {path}")
        return json_body(response, NAME)

    def _pages(self, access_token: str, path: str, what: str, max_pages: int,
               params: dict[str, Any] | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[list[Any]]:
        """Every page's items of a bookmark-paged list, in order; a page that cannot be read or a
        bookmark that does not progress is ProviderUnavailable, not a read that never ends."""
        bookmark: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            query: dict[str, Any] = {**(params or {}), "page_size": min(page_size, MAX_PAGE_SIZE)}
            if bookmark:
                query["bookmark"] = bookmark
            page = self._get(access_token, path, query)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderUnavailable(NAME, f"{what} page without items")
            yield items
            bookmark = _next_bookmark(page, seen, what)
            if bookmark is None:
                return
        raise ProviderUnavailable(NAME, f"more than {max_pages} pages of {what}")

    def user_account(self, access_token: str) -> dict[str, Any]:
        account = self._get(access_token, "/user_account")
        if not isinstance(account, dict) or not account.get("username"):
            raise ProviderUnavailable(NAME, "user_account answered without a username")
        return account

    def boards(self, access_token: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[Board]:
        """Every board, following `bookmark` to the last page."""
        for items in self._pages(access_token, "/boards", "boards", MAX_BOARD_PAGES, page_size=page_size):
            yield from (_board(item) for item in items)

    def pins(self, access_token: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[list[Pin]]:
        """The account's pins (`GET /pins`: every pin it owns, on whoever's board), one list per
        page, so a caller can write each page before asking for the next."""
        for items in self._pages(access_token, "/pins", "pins", MAX_PIN_PAGES, page_size=page_size):
            yield [_pin(item) for item in items]

    def pin_analytics(self, access_token: str, pin_id: str, start: date, end: date) -> list[PinDay]:
        """A pin's own figures per day from `start` to `end` (UTC dates; Pinterest refuses a start
        more than 90 days back). Days without data yet are left out."""
        body = self._get(access_token, f"/pins/{quote(pin_id, safe='')}/analytics",
                         {"start_date": start.isoformat(), "end_date": end.isoformat(),
                          "metric_types": ",".join(PIN_METRICS), "app_types": "ALL", "split_field": "NO_SPLIT"})
        return _days(body, _pin_day)

    def account_analytics(self, access_token: str, start: date, end: date) -> list[AccountDay]:
        """The account's impressions and pin clicks per day (`GET /user_account/analytics`)."""
        body = self._get(access_token, "/user_account/analytics",
                         {"start_date": start.isoformat(), "end_date": end.isoformat(),
                          "metric_types": ",".join(ACCOUNT_METRICS)})
        return _days(body, _account_day)

    def ad_accounts(self, access_token: str) -> list[AdAccount]:
        """The ad accounts the user can reach (`GET /ad_accounts`, shared ones included)."""
        accounts: list[AdAccount] = []
        for items in self._pages(access_token, "/ad_accounts", "ad accounts", MAX_AD_ACCOUNT_PAGES,
                                 params={"include_shared_accounts": "true"}):
            accounts.extend(_ad_account(item) for item in items)
        return accounts

    def _send(self, method: str, access_token: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        """A write. A 4xx comes back as ProviderRejected carrying Pinterest's reason (see
        `refusal_reason`); 401 is the token refused, 429 and 5xx are for later (Transport)."""
        response = self.http.request(method, f"{self.api_base}{path}", json=body,
                                     headers=self._headers(access_token))
        if not 200 <= response.status_code < 300 and response.status_code != 404:
            raise ProviderRejected(NAME, f"{method} {path.split('/')[1]} refused "
                                         f"({refusal_reason(response, access_token)})",
                                   status=response.status_code)
        return response

    def create_board(self, access_token: str, *, name: str, description: str | None,
                     privacy: str) -> Board:
        body: dict[str, Any] = {"name": name, "privacy": privacy}
        if description:
            body["description"] = description
        response = self._send("POST", access_token, "/boards", body)
        if response.status_code == 404:
            raise ProviderRejected(NAME, "POST boards refused (404)", status=404)
        return _board(json_body(response, NAME))

    def create_pin(self, access_token: str, *, board_id: str, image_url: str, title: str | None = None,
                   description: str | None = None, link: str | None = None,
                   alt_text: str | None = None) -> CreatedPin:
        body: dict[str, Any] = {"board_id": board_id, "media_source": {"source_type": "image_url", "url": image_url}}
        for key, value in (("title", title), ("description", description), ("link", link), ("alt_text", alt_text)):
            if value is not None:
                body[key] = value
        response = self._send("POST", access_token, "/pins", body)
        if response.status_code == 404:
            raise ProviderRejected(NAME, f"POST pins refused ({refusal_reason(response, access_token)})",
                                   status=404)
        created = json_body(response, NAME)
        pin_id = _id(created, "a created pin")
        created_at: datetime | None = None
        if isinstance(created.get("created_at"), str):
            try:
                created_at = datetime.fromisoformat(created["created_at"].replace("Z", "+00:00"))
            except ValueError:
                created_at = None  # the pin exists; when exactly is not worth failing it over
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        return CreatedPin(pin_id, created_at)

    def delete_pin(self, access_token: str, pin_id: str) -> bool:
        """Deletes a pin; False when Pinterest no longer has it (404: deleted there already)."""
        response = self._send("DELETE", access_token, f"/pins/{quote(pin_id, safe='')}")
        return response.status_code != 404
