"""A fake Pinterest API v5 following the published OpenAPI contract (pinterest/api-description).

Tokens: Basic client auth on POST /v5/oauth/token with a form body; codes are single use and
bound to their redirect_uri; every refresh rotates the refresh token and the old one stops
working (continuous refresh). Boards page with an opaque `bookmark`, `page_size` at most 250.
Errors are `{"code": n, "message": "…"}`. It can be told to answer 429 or 5xx (optionally after
letting a few requests through, to cut a paginated read half-way), to revoke every grant (the
user removed the app), and to hold a token request until the test releases it (to overlap two
refreshers deterministically).
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
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
        return jsonify({"code": code, "message": message}), status

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

        return app
