"""A fake Dynamic Mockups (app.dynamicmockups.com/api/v1) following its documented contract:

- `x-api-key` header (missing or unknown: 401 `{"message": "Unauthenticated."}`) and
  `Accept: application/json` (required by the docs; otherwise 406 here);
- GET /api/v1/catalogs returns `{"data": [...], "success": true, "message": ""}`;
- there is no credits endpoint.
"""
from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .base import FakeProvider, json_response


class FakeDynamicMockups(FakeProvider):
    def __init__(self, server: HTTPServer, *, keys: tuple[str, ...] = ("dm_good_key_0001",),
                 catalogs: int = 2) -> None:
        super().__init__(server)
        self.keys = set(keys)
        self.catalogs = [{"uuid": f"a1b2c3d4-e5f6-4a5b-9c8d-1e2f3a4b5c{n:02d}", "name": f"Catalog {n}",
                          "type": "custom", "created_at": "2026-08-28 13:11:05 UTC",
                          "created_at_timestamp": 1787922665} for n in range(catalogs)]
        server.expect_request("/api/v1/catalogs", method="GET").respond_with_handler(self.list_catalogs)

    def list_catalogs(self, request: Request) -> Response:
        refused = self.failure(request)
        if refused:
            return refused
        if "application/json" not in request.headers.get("Accept", ""):
            return json_response({"message": "Accept: application/json is required."}, 406)
        if request.headers.get("x-api-key") not in self.keys:
            return json_response({"message": "Unauthenticated."}, 401)
        return json_response({"data": self.catalogs, "success": True, "message": ""})
