"""A fake Pinterest API v5 following the published OpenAPI contract (pinterest/api-description).

Tokens: Basic client auth on POST /v5/oauth/token with a form body; codes are single use and
bound to their redirect_uri; every refresh rotates the refresh token and the old one stops
working (continuous refresh). Boards, pins and ad accounts page with an opaque `bookmark`,
`page_size` at most 250. Analytics (`/pins/{id}/analytics`, `/user_account/analytics`) answer
`{"all": {"daily_metrics": [{"date", "data_status", "metrics"}], "summary_metrics": …}}` for dates
no more than 90 days back, at most 90 days long, `metric_types` required; a pin's only for the
account's own pins. Boards and pins are created (201) and pins deleted (204; 404 when unknown).
Errors are `{"code": n, "message": "…"}`; a 429 carries `X-RateLimit-Limit`, `-Remaining` and
`-Reset` (seconds until the window resets). It can be told to answer 429 or 5xx for an operation
(optionally after letting a few requests through, to cut a paginated read half-way), to refuse
pins whose link it blocks, to revoke every grant (the user removed the app), and to hold a token
request until the test releases it (to overlap two refreshers deterministically).
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlencode

from flask import Flask, jsonify, request

# Pagination the contract rules out, to show a client still ends: "repeat" answers a page with the
# bookmark it was asked with, "endless" hands out fresh bookmarks for ever (past the last board).
BookmarkFault = Literal["repeat", "endless"]


@dataclass
class FakePinterest:
    client_id: str = "fake-pinterest-app-id"
    client_secret: str = "fake-pinterest-app-secret"
    username: str = "havenprints"
    boards: list[dict[str, Any]] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    failures: list[list[Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Every token ever issued, so a test can assert none of them leaked anywhere.
    issued: list[str] = field(default_factory=list)
    bookmarks: dict[str, int] = field(default_factory=dict)
    next_board: int = 0  # board ids are never reused, even after a delete
    # When set, a token request waits for `release_token` after setting `token_entered`.
    hold_token: bool = False
    token_entered: threading.Event = field(default_factory=threading.Event)
    release_token: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    bookmark_fault: BookmarkFault | None = None
    # A faulty listing still ends after this many pages, so a client without guards fails its
    # test instead of hanging it.
    bookmark_fault_pages: int = 50
    _fault_pages_served: int = 0
    pins: list[dict[str, Any]] = field(default_factory=list)
    next_pin: int = 0
    # Pins of others (on a group board shared with the account): listed, but no analytics for them.
    foreign_pins: set[str] = field(default_factory=set)
    ad_accounts: list[dict[str, Any]] = field(default_factory=list)
    # A pin whose link contains one of these is refused, as Pinterest refuses spam links.
    blocked_links: set[str] = field(default_factory=set)
    # What a 429 says: seconds until the limit's window resets.
    rate_limit_reset: int = 60
    # Offsets of other paged lists: bookmark -> (list, offset).
    list_bookmarks: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add_pins(self, count: int, board_id: str | None = None, prefix: str = "Pin") -> list[dict[str, Any]]:
        """Pins made on Pinterest (outside Haven), on `board_id` or on the account's boards in turn."""
        added = []
        for _ in range(count):
            n = self.next_pin
            self.next_pin += 1
            board = board_id or (self.boards[n % len(self.boards)]["id"] if self.boards else "0")
            added.append(self._new_pin(f"{700000000000000 + n}", board, title=f"{prefix} {n}",
                                       description=f"About {prefix.lower()} {n}",
                                       link=f"https://havenprints.example/p/{n}",
                                       image_url=f"https://i.pinimg.example/1200x/{n}.jpg"))
        return added

    def _new_pin(self, pin_id: str, board_id: str, *, title: str | None, description: str | None,
                 link: str | None, image_url: str, alt_text: str | None = None) -> dict[str, Any]:
        pin = {"id": pin_id, "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
               "link": link, "title": title, "description": description, "alt_text": alt_text,
               "board_id": board_id, "board_section_id": None, "board_owner": {"username": self.username},
               "media": {"media_type": "image", "images": {
                   "150x150": {"width": 150, "height": 150, "url": image_url.replace("1200x", "150x150")},
                   "1200x": {"width": 1200, "height": 1600, "url": image_url}}}}
        with self.lock:
            self.pins.append(pin)
        return pin

    def add_ad_accounts(self, count: int) -> None:
        for n in range(count):
            self.ad_accounts.append({"id": f"54975580{n:04d}", "name": f"Haven ads {n}", "currency": "USD",
                                     "country": "US", "owner": {"username": self.username},
                                     "permissions": ["OWNER"]})

    @staticmethod
    def pin_day(pin_id: str, day: date) -> dict[str, int]:
        """A pin's figures on a day: made up, but the same every time it is asked."""
        seed = int(pin_id) % 97 + day.toordinal() % 13
        return {"IMPRESSION": 100 + seed, "SAVE": seed % 5, "PIN_CLICK": seed % 7, "ENGAGEMENT": seed % 5 + seed % 7 + 1}

    @staticmethod
    def account_day(day: date) -> dict[str, int]:
        return {"IMPRESSION": 5000 + day.toordinal() % 100, "PIN_CLICK": 40 + day.toordinal() % 10}

    def add_boards(self, count: int, prefix: str = "Board") -> None:
        start = self.next_board
        self.next_board += count
        for n in range(start, start + count):
            self.boards.append({"id": f"{900000000000000 + n}", "name": f"{prefix} {n}", "description": "",
                                "privacy": "PUBLIC", "pin_count": n % 50, "follower_count": n % 7,
                                "owner": {"username": self.username}})

    def fail_next(self, operation: str, status: int, *, after: int = 0) -> None:
        """The next `operation` request (after letting `after` of them through) answers `status`."""
        self.failures.append([operation, status, after])

    def _take_failure(self, operation: str) -> int | None:
        with self.lock:
            for index, failure in enumerate(self.failures):
                if failure[0] == operation:
                    if failure[2] > 0:
                        failure[2] -= 1
                        return None
                    del self.failures[index]
                    return int(failure[1])
        return None

    def revoke(self) -> None:
        """The user removed the app on Pinterest: every access and refresh token stops working."""
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def token_requests(self, grant_type: str) -> int:
        return sum(1 for r in self.requests if r["op"] == "token" and r["grant_type"] == grant_type)

    def approve(self, state: str, redirect_uri: str) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = redirect_uri
        return f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"

    def deny(self, state: str, redirect_uri: str) -> str:
        return f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': state})}"

    def _error(self, status: int, code: int, message: str):  # type: ignore[no-untyped-def]
        if status == 429:
            response = jsonify({"code": 8, "message": "You have exceeded your rate limit. Try again later."})
            response.status_code = 429
            response.headers.update({"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0",
                                     "X-RateLimit-Reset": str(self.rate_limit_reset)})
            return response
        return jsonify({"code": code, "message": message}), status

    def _guard(self, op: str, **seen: Any):  # type: ignore[no-untyped-def]
        """Records the request; an answer when it must be refused (no valid token, a failure told)."""
        self.requests.append({"op": op, **seen})
        if not self._authorised():
            return self._error(401, 2, "Authentication failed.")
        failure = self._take_failure(op)
        if failure:
            return self._error(failure, 1, "Error")
        return None

    def _paged(self, kind: str, items: list[Any]):  # type: ignore[no-untyped-def]
        try:
            page_size = int(request.args.get("page_size", 25))
        except ValueError:
            return self._error(400, 1, "Invalid page_size")
        if not 1 <= page_size <= 250:
            return self._error(400, 1, "page_size must be between 1 and 250")
        bookmark = request.args.get("bookmark")
        if bookmark and self.list_bookmarks.get(bookmark, ("", 0))[0] != kind:
            return self._error(400, 1, "Invalid bookmark")
        start = self.list_bookmarks[bookmark][1] if bookmark else 0
        end = start + page_size
        following = None
        if end < len(items):
            following = secrets.token_urlsafe(12)
            self.list_bookmarks[following] = (kind, end)
        return jsonify({"items": items[start:end], "bookmark": following})

    def _window(self):  # type: ignore[no-untyped-def]
        """The analytics dates asked for, or the refusal Pinterest answers."""
        try:
            start = date.fromisoformat(request.args["start_date"])
            end = date.fromisoformat(request.args["end_date"])
        except (KeyError, ValueError):
            return None, self._error(400, 1, "start_date and end_date (YYYY-MM-DD) are required")
        if not request.args.get("metric_types"):
            return None, self._error(400, 1, "metric_types is required")
        today = datetime.now(timezone.utc).date()
        if start > end or start < today - timedelta(days=90) or end - start > timedelta(days=90):
            return None, self._error(400, 1, "Date range is invalid: at most 90 days back and 90 days long")
        return (start, min(end, today)), None

    @staticmethod
    def _analytics(start: date, end: date, figures: Any, wanted: list[str]) -> dict[str, Any]:
        days = []
        totals: dict[str, int] = {}
        day = start
        while day <= end:
            metrics = {k: v for k, v in figures(day).items() if k in wanted}
            # Today's figures are still being counted.
            status = "PROCESSING" if day == datetime.now(timezone.utc).date() else "READY"
            days.append({"date": day.isoformat(), "data_status": status,
                         "metrics": metrics if status == "READY" else {}})
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0) + v
            day += timedelta(days=1)
        return {"all": {"daily_metrics": days, "summary_metrics": totals}}

    def _authorised(self) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and self.access_tokens.get(token, 0) > time.time()

    def _next_bookmark(self, given: str | None, end: int) -> str | None:
        """The bookmark of a page ending at `end`, as `bookmark_fault` would have it."""
        with self.lock:
            faulty = self.bookmark_fault is not None and self._fault_pages_served < self.bookmark_fault_pages
            if faulty:
                self._fault_pages_served += 1
        if faulty and self.bookmark_fault == "repeat" and given:
            return given
        if not faulty and end >= len(self.boards):
            return None
        bookmark = secrets.token_urlsafe(12)  # opaque, as Pinterest's are
        self.bookmarks[bookmark] = end
        return bookmark

    def app(self) -> Flask:
        app = Flask("fake_pinterest")

        @app.post("/v5/oauth/token")
        def token():  # type: ignore[no-untyped-def]
            form = request.form
            self.requests.append({"op": "token", "grant_type": form.get("grant_type"),
                                  "redirect_uri": form.get("redirect_uri")})
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return self._error(401, 2, "Authentication failed.")
            if request.is_json:
                return self._error(400, 1, "Content-Type must be application/x-www-form-urlencoded")
            if self.hold_token:
                self.token_entered.set()
                self.release_token.wait(30)
            failure = self._take_failure("token")
            if failure:
                return self._error(failure, 8, "Failure")
            with self.lock:
                if form.get("grant_type") == "authorization_code":
                    if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                        return self._error(400, 1, "Invalid authorization code or redirect_uri")
                    response_type = "authorization_code"
                elif form.get("grant_type") == "refresh_token":
                    if form.get("refresh_token") not in self.refresh_tokens:
                        return self._error(400, 1, "Invalid refresh token")
                    self.refresh_tokens.discard(form["refresh_token"])
                    response_type = "refresh_token"
                else:
                    return self._error(400, 1, "Unsupported grant_type")
                access = f"pina_{secrets.token_urlsafe(24)}"
                refresh = f"pinr_{secrets.token_urlsafe(24)}"
                self.access_tokens[access] = time.time() + 2_592_000
                self.refresh_tokens.add(refresh)
                self.issued.extend((access, refresh))
            now = int(time.time())
            return jsonify({"access_token": access, "token_type": "bearer", "expires_in": 2_592_000,
                            "scope": "boards:read,pins:read,user_accounts:read", "refresh_token": refresh,
                            "refresh_token_expires_in": 5_184_000, "refresh_token_expires_at": now + 5_184_000,
                            "response_type": response_type})

        @app.get("/v5/user_account")
        def user_account():  # type: ignore[no-untyped-def]
            if not self._authorised():
                return self._error(401, 2, "Authentication failed.")
            failure = self._take_failure("user_account")
            if failure:
                return self._error(failure, 8, "Failure")
            return jsonify({"account_type": "BUSINESS", "id": "549755885175", "username": self.username,
                            "business_name": "Haven Prints", "board_count": len(self.boards),
                            "profile_image": "", "website_url": "https://havenprints.example"})

        @app.get("/v5/boards")
        def boards():  # type: ignore[no-untyped-def]
            if not self._authorised():
                return self._error(401, 2, "Authentication failed.")
            self.requests.append({"op": "boards", "bookmark": request.args.get("bookmark"),
                                  "page_size": request.args.get("page_size")})
            failure = self._take_failure("boards")
            if failure:
                return self._error(failure, 8 if failure == 429 else 1, "Too many requests" if failure == 429 else "Error")
            try:
                page_size = int(request.args.get("page_size", 25))
            except ValueError:
                return self._error(400, 1, "Invalid page_size")
            if not 1 <= page_size <= 250:
                return self._error(400, 1, "page_size must be between 1 and 250")
            bookmark = request.args.get("bookmark")
            if bookmark and bookmark not in self.bookmarks:
                return self._error(400, 1, "Invalid bookmark")
            start = self.bookmarks[bookmark] if bookmark else 0
            page = self.boards[start:start + page_size]
            return jsonify({"items": page, "bookmark": self._next_bookmark(bookmark, start + page_size)})

        @app.get("/v5/pins")
        def pins():  # type: ignore[no-untyped-def]
            refused = self._guard("pins", bookmark=request.args.get("bookmark"))
            return refused or self._paged("pins", list(self.pins))

        @app.get("/v5/pins/<pin_id>/analytics")
        def pin_analytics(pin_id: str):  # type: ignore[no-untyped-def]
            refused = self._guard("pin_analytics", pin_id=pin_id, start_date=request.args.get("start_date"),
                                  end_date=request.args.get("end_date"), metric_types=request.args.get("metric_types"))
            if refused:
                return refused
            if not any(p["id"] == pin_id for p in self.pins):
                return self._error(404, 50, "Pin not found.")
            if pin_id in self.foreign_pins:
                return self._error(403, 29, "You are not permitted to access that resource.")
            window, refusal = self._window()
            if refusal:
                return refusal
            wanted = request.args["metric_types"].split(",")
            return jsonify(self._analytics(*window, lambda day: self.pin_day(pin_id, day), wanted))

        @app.get("/v5/user_account/analytics")
        def account_analytics():  # type: ignore[no-untyped-def]
            refused = self._guard("account_analytics", start_date=request.args.get("start_date"),
                                  end_date=request.args.get("end_date"))
            if refused:
                return refused
            window, refusal = self._window()
            if refusal:
                return refusal
            return jsonify(self._analytics(*window, self.account_day, request.args["metric_types"].split(",")))

        @app.get("/v5/ad_accounts")
        def ad_accounts():  # type: ignore[no-untyped-def]
            refused = self._guard("ad_accounts", bookmark=request.args.get("bookmark"))
            return refused or self._paged("ad_accounts", list(self.ad_accounts))

        @app.post("/v5/boards")
        def create_board():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True)
            refused = self._guard("create_board", body=body)
            if refused:
                return refused
            if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
                return self._error(400, 1, "Invalid board name")
            if body.get("privacy", "PUBLIC") not in ("PUBLIC", "PROTECTED", "SECRET"):
                return self._error(400, 1, "Invalid privacy")
            if any(b["name"] == body["name"] for b in self.boards):
                return self._error(400, 58, "You already have a board with this name.")
            with self.lock:
                n = self.next_board
                self.next_board += 1
            board = {"id": f"{900000000000000 + n}", "name": body["name"], "description": body.get("description", ""),
                     "privacy": body.get("privacy", "PUBLIC"), "pin_count": 0, "follower_count": 0,
                     "owner": {"username": self.username}}
            self.boards.append(board)
            return jsonify(board), 201

        @app.post("/v5/pins")
        def create_pin():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True)
            refused = self._guard("create_pin", body=body)
            if refused:
                return refused
            if not isinstance(body, dict) or not any(b["id"] == body.get("board_id") for b in self.boards):
                return self._error(404, 40, "Board not found.")
            source = body.get("media_source")
            if not isinstance(source, dict) or source.get("source_type") != "image_url" or not source.get("url"):
                return self._error(400, 1, "Invalid media_source")
            if len(body.get("title") or "") > 100 or len(body.get("description") or "") > 800:
                return self._error(400, 1, "Invalid parameters")
            link = body.get("link") or ""
            if any(blocked in link for blocked in self.blocked_links):
                return self._error(400, 1, "Sorry! We blocked this link because it may lead to spam.")
            with self.lock:
                n = self.next_pin
                self.next_pin += 1
            pin = self._new_pin(f"{700000000000000 + n}", body["board_id"], title=body.get("title"),
                                description=body.get("description"), link=body.get("link"),
                                image_url=source["url"], alt_text=body.get("alt_text"))
            return jsonify(pin), 201

        @app.delete("/v5/pins/<pin_id>")
        def delete_pin(pin_id: str):  # type: ignore[no-untyped-def]
            refused = self._guard("delete_pin", pin_id=pin_id)
            if refused:
                return refused
            with self.lock:
                kept = [p for p in self.pins if p["id"] != pin_id]
                found = len(kept) < len(self.pins)
                self.pins = kept
            if not found:
                return self._error(404, 50, "Pin not found.")
            return "", 204

        return app

    def ops(self, op: str) -> list[dict[str, Any]]:
        """The requests of one operation the fake saw, in order."""
        return [r for r in self.requests if r["op"] == op]
