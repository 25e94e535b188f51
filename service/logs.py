"""One log format for the server and the worker: text (default) or JSON lines
(HAVEN_LOG_FORMAT=json), every line with its time; a request's line also carries its id.

The request id comes from nginx (`$request_id`, passed as X-Request-Id) under `haven serve`, or
is made here; it is answered in the X-Request-Id header, so a user's report can be found in the
logs. Request lines name the path only: query strings can carry OAuth codes.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request

from .config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a request line carries besides its message, in JSON as fields of their own.
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.-]{8,64}")
log = logging.getLogger("haven.requests")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        line.update({name: getattr(record, name) for name in REQUEST_FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, to be told apart from handlers others installed (a test runner's capture)."""


def configure_logging(settings: Settings) -> None:
    """Our handler on the root logger, in the chosen format (replacing our earlier one only)."""
    handler = _Handler()
    if settings.log_format == "json":
        formatter: logging.Formatter = JsonLines()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _Handler)] + [handler]
    root.setLevel(settings.log_level.upper())


def log_requests(app: Flask) -> None:
    """One line per request: time, request id, method, path, status, duration.

    On every request's path, so it costs little: the id nginx sends is used as it is; without one
    (no front), a random per-process prefix and a counter make it, with no system call.
    """
    prefix = secrets.token_hex(4)
    numbers = itertools.count()

    @app.before_request
    def _begin() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        given = request.headers.get("X-Request-Id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else f"{prefix}{next(numbers):08x}"
        response.headers["X-Request-Id"] = request_id
        if log.isEnabledFor(logging.INFO):
            duration_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1)
            log.info("%s %s %s %sms [%s]", request.method, request.path, response.status_code, duration_ms,
                     request_id, extra={"request_id": request_id, "method": request.method, "path": request.path,
                                        "status": response.status_code, "duration_ms": duration_ms})
        return response
