"""A fake Resend (api.resend.com) following its documented contract:

- a request without a User-Agent is refused with 403 and a non-JSON body ("error code: 1010");
- `Authorization: Bearer <key>`: missing, 401 missing_api_key; unknown, 403 invalid_api_key;
  a sending-only key, 401 restricted_api_key on GET /domains;
- GET /domains lists domains (`limit` 1-100, `after` cursor = the last id, `has_more`);
- errors are `{"statusCode", "name", "message"}`; 429 rate_limit_exceeded with retry-after.
"""
from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .base import FakeProvider, json_response


class FakeResend(FakeProvider):
    def __init__(self, server: HTTPServer, *, keys: tuple[str, ...] = ("re_good_resend_key_0001",),
                 sending_only_keys: tuple[str, ...] = (),
                 domains: tuple[tuple[str, str], ...] = (("haven.test", "verified"),)) -> None:
        super().__init__(server)
        self.keys = set(keys)
        self.sending_only_keys = set(sending_only_keys)
        self.domains = [{"id": f"d{n:04d}-0000-4000-8000-000000000000", "name": name, "status": status,
                         "created_at": "2026-04-26T20:21:26.347412+00:00", "region": "us-east-1"}
                        for n, (name, status) in enumerate(domains)]
        server.expect_request("/domains", method="GET").respond_with_handler(self.list_domains)

    def list_domains(self, request: Request) -> Response:
        if not request.headers.get("User-Agent"):
            self.seen.append(request)
            return Response("error code: 1010", status=403, content_type="text/plain")
        refused = self.failure(request) or self.refuse(request)
        if refused:
            return refused
        limit = int(request.args.get("limit", "20"))
        if not 1 <= limit <= 100:
            return self.error(422, "validation_error", "limit must be between 1 and 100")
        after = request.args.get("after")
        ids = [d["id"] for d in self.domains]
        start = ids.index(after) + 1 if after in ids else 0
        page = self.domains[start:start + limit]
        return json_response({"object": "list", "has_more": start + limit < len(self.domains), "data": page})

    def refuse(self, request: Request) -> Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.error(401, "missing_api_key", "Missing API key in the authorization header.")
        key = auth.removeprefix("Bearer ")
        if key in self.sending_only_keys:
            return self.error(401, "restricted_api_key", "This API key is restricted to only send emails.")
        if key not in self.keys:
            return self.error(403, "invalid_api_key", "API key is invalid.")
        return None

    def rate_limited(self) -> Response:
        return self.error(429, "rate_limit_exceeded", "Too many requests.", headers={"retry-after": "1"})

    @staticmethod
    def error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"statusCode": status, "name": name, "message": message}, status, headers=headers)
