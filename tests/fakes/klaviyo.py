"""A fake Klaviyo (a.klaviyo.com) following its documented contract:

- every request needs `revision: YYYY-MM-DD` (else 400) and `Accept: application/vnd.api+json`
  (else 406); `Authorization: Klaviyo-API-Key <key>` (else 401 not_authenticated; unknown key:
  401 authentication_failed; a key without the lists:read scope: 403 permission_denied on lists);
- GET /api/accounts returns exactly one account; GET /api/lists pages of at most 10 lists, with
  an absolute `links.next` carrying `page[cursor]`, null on the last page;
- errors are JSON:API `{"errors": [{"id", "status", "code", "title", "detail"}]}`; 429 carries
  Retry-After.
"""
from __future__ import annotations

import base64
import re
import uuid
from urllib.parse import quote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .base import FakeProvider, json_response

JSONAPI = "application/vnd.api+json"


class FakeKlaviyo(FakeProvider):
    def __init__(self, server: HTTPServer, *, keys: tuple[str, ...] = ("pk_good_klaviyo_key_0001",),
                 keys_without_lists_scope: tuple[str, ...] = (), list_count: int = 23) -> None:
        super().__init__(server)
        self.keys = set(keys)
        self.keys_without_lists_scope = set(keys_without_lists_scope)
        self.list_names = [f"List {n}" for n in range(list_count)]
        #: Overrides the origin of links.next (to test a provider pointing elsewhere).
        self.next_link_base: str | None = None
        server.expect_request("/api/accounts", method="GET").respond_with_handler(self.accounts)
        # links.next points at /api/lists/ (Klaviyo's canonical form, trailing slash).
        for path in ("/api/lists", "/api/lists/"):
            server.expect_request(path, method="GET").respond_with_handler(self.lists)

    def accounts(self, request: Request) -> Response:
        refused = self.failure(request) or self.refuse(request)
        if refused:
            return refused
        return json_response({
            "data": [{"type": "account", "id": "AbC123", "attributes": {
                "test_account": False,
                "contact_information": {"default_sender_name": "Haven", "default_sender_email": "hi@haven.test",
                                        "website_url": "https://haven.test", "organization_name": "Haven Prints"},
                "timezone": "US/Eastern", "preferred_currency": "USD", "public_api_key": "AbC123",
                "locale": "en-US"}, "links": {"self": self.server.url_for("/api/accounts/AbC123/")}}],
            "links": {"self": self.server.url_for("/api/accounts"), "next": None, "prev": None},
        }, content_type=JSONAPI)

    def lists(self, request: Request) -> Response:
        refused = self.failure(request) or self.refuse(request)
        if refused:
            return refused
        if self._key(request) in self.keys_without_lists_scope:
            return self.error(403, "permission_denied", "You do not have permission to perform this action.")
        size = int(request.args.get("page[size]", "10"))
        if not 1 <= size <= 10:
            return self.error(400, "invalid", "page[size] must be between 1 and 10")
        cursor = request.args.get("page[cursor]")
        start = int(base64.urlsafe_b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
        page = self.list_names[start:start + size]
        end = start + size
        next_url = None
        if end < len(self.list_names):
            token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode()
            base = self.next_link_base or self.base_url
            next_url = f"{base}/api/lists/?page%5Bcursor%5D={quote(token)}"
        data = [{"type": "list", "id": f"L{start + i:05d}",
                 "attributes": {"name": name, "opt_in_process": "double_opt_in"}}
                for i, name in enumerate(page)]
        return json_response({"data": data, "links": {"self": request.url, "next": next_url, "prev": None}},
                             content_type=JSONAPI)

    def refuse(self, request: Request) -> Response | None:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", request.headers.get("revision", "")):
            return self.error(400, "invalid", "The revision header is required (YYYY-MM-DD).")
        if JSONAPI not in request.headers.get("Accept", ""):
            return self.error(406, "not_acceptable", "Could not satisfy the request Accept header.")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Klaviyo-API-Key "):
            return self.error(401, "not_authenticated", "Missing or invalid authorization scheme. "
                                                        "Please use Klaviyo-API-Key.")
        if self._key(request) not in self.keys | self.keys_without_lists_scope:
            return self.error(401, "authentication_failed", "Incorrect authentication credentials.")
        return None

    def rate_limited(self) -> Response:
        return self.error(429, "throttled", "Request was throttled. Expected available in 2 seconds.",
                          headers={"Retry-After": "2"})

    @staticmethod
    def _key(request: Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Klaviyo-API-Key ")

    @staticmethod
    def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"errors": [{"id": str(uuid.uuid4()), "status": status, "code": code,
                                          "title": detail, "detail": detail, "source": {"pointer": "/data/"}}]},
                             status, content_type=JSONAPI, headers=headers)
