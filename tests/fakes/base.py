"""What every fake provider shares: a mode switch for the ways a provider fails, and a record of
the requests it saw (so tests can assert what our client sent)."""
from __future__ import annotations

import json
import threading
from typing import Any, Literal

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

Mode = Literal["ok", "down", "rate_limited", "malformed", "slow"]


class FakeProvider:
    #: How long a "slow" answer is held back at most (the test releases it sooner on teardown).
    slow_hold_seconds = 10.0

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.mode: Mode = "ok"
        self.seen: list[Request] = []
        self._release = threading.Event()

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def close(self) -> None:
        self._release.set()

    def failure(self, request: Request) -> Response | None:
        """The answer of a failing provider, or None when the fake is healthy."""
        self.seen.append(request)
        if self.mode == "down":
            return Response("<html>503 Service Temporarily Unavailable</html>", status=503, content_type="text/html")
        if self.mode == "rate_limited":
            return self.rate_limited()
        if self.mode == "malformed":
            return Response("<html>maintenance</html>", status=200, content_type="text/html")
        if self.mode == "slow":
            self._release.wait(self.slow_hold_seconds)
            return Response("{}", status=504, content_type="application/json")
        return None

    def rate_limited(self) -> Response:
        return json_response({"message": "Too many requests"}, 429, headers={"Retry-After": "2"})


def json_response(body: Any, status: int = 200, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type, headers=headers)
