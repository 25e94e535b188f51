"""Errors as exceptions, mapped to JSON HTTP answers in one place.

Every error body is `{"error": <code>, "message": <text>[, "details": …]}`. Rules about data
live in SQL and raise with a SQLSTATE; `SQLSTATE_STATUS` turns those into HTTP answers, so a
route never needs to catch a database error to answer 400, 404 or 409.
"""
from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)

# SQLSTATEs our SQL functions raise on purpose, and what the HTTP caller sees for each.
SQLSTATE_STATUS: dict[str, tuple[int, str]] = {
    "22023": (400, "invalid_parameter"),  # invalid_parameter_value
    "23514": (400, "constraint_violated"),  # check_violation
    "22P02": (400, "invalid_parameter"),  # invalid_text_representation (e.g. a bad uuid)
    # Text Postgres cannot hold: U+0000 in jsonb (22P05) or bytes not valid in the encoding (22021).
    # Only input carries such text, so it is the caller's problem, not a fault of ours.
    "22P05": (400, "invalid_parameter"),  # untranslatable_character
    "22021": (400, "invalid_parameter"),  # character_not_in_repertoire
    "P0002": (404, "not_found"),  # no_data_found
    "55000": (409, "conflict"),  # object_not_in_prerequisite_state
    "23505": (409, "conflict"),  # unique_violation
    "23503": (409, "conflict"),  # foreign_key_violation (a missing or still-referenced row), as PostgREST
    "42501": (403, "forbidden"),  # insufficient_privilege (RLS or a missing grant)
}


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class UpstreamError(ApiError):
    """A provider we depend on is down, slow, rate-limiting or answering nonsense."""

    status, code = 502, "upstream_unavailable"


def from_database(exc: psycopg.Error) -> ApiError | None:
    """The HTTP meaning of a database error raised on purpose, or None for a real fault."""
    mapped = SQLSTATE_STATUS.get(exc.sqlstate or "")
    if mapped is None:
        return None
    status, code = mapped
    return ApiError(exc.diag.message_primary or code, code=code, status=status)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or None, "problem": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(exc.body()), exc.status

    @app.errorhandler(ValidationError)
    def invalid_input(exc: ValidationError):  # type: ignore[no-untyped-def]
        body = {"error": "invalid_request", "message": "the request is not valid",
                "details": validation_details(exc)}
        return jsonify(body), 400

    @app.errorhandler(psycopg.Error)
    def database_error(exc: psycopg.Error):  # type: ignore[no-untyped-def]
        mapped = from_database(exc)
        if mapped is not None:
            return jsonify(mapped.body()), mapped.status
        log.exception("database error")
        return jsonify({"error": "internal_error", "message": "internal error"}), 500

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description
        if isinstance(exc, RequestEntityTooLarge) and request.max_content_length is not None:
            # Werkzeug's text does not say what the limit is; a sender needs it to fix the request.
            message = f"the request body is larger than the limit of {request.max_content_length} bytes"
        response = jsonify({"error": code, "message": message})
        response.status_code = exc.code or 500
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return jsonify({"error": "internal_error", "message": "internal error"}), 500
