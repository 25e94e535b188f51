"""The one exception tree, the one table of SQLSTATE meanings, and their HTTP answers.

Every error body is `{"error": <code>, "message": <text>[, "details": …]}`. Rules about data
live in SQL and raise with a SQLSTATE; `SQLSTATES` declares what each means (an HTTP status, and
whether retrying can help), so a route never catches a database error to answer 400, 404 or 409,
and the webhook inbox and the worker read the same table.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)


# -- the one exception tree ------------------------------------------------------------------------

class HavenError(Exception):
    """The root of every error the service raises on purpose.

    `retryable` is the one retry decision: the worker asks `retryable(exc)` (below) and nothing
    else, so a provider's refusal, a bad payload and a revoked grant each fail their queue item
    at once, while an outage is tried again with backoff.
    """

    retryable = False


class ApiError(HavenError):
    """An answer to an HTTP caller: a status and a code, with a message safe to show."""

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


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class UpstreamError(ApiError):
    """A provider we depend on is down, slow, rate-limiting or answering nonsense."""

    status, code = 502, "upstream_unavailable"
    retryable = True


class PermanentError(HavenError):
    """Retrying cannot help (bad input, revoked access, a missing setting): fails a queue item now."""


class ProviderError(HavenError):
    """A provider call failed. Its `reason` is written to be shown and stored: it names statuses and
    error codes, never the provider's free text (which could quote a key) or a credential."""

    retryable = True

    def __init__(self, provider: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.reason = message  # without the provider's name: for messages that already name it
        self.status = status
        # Seconds before asking again can help, when the provider said (a rate limit's reset).
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Down, slow, rate-limiting (429, Shopify's THROTTLED) or answering nonsense: try later."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials (401, invalid_grant, a wrong key): the user must act."""

    retryable = False


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx, GraphQL userErrors): asking again gets the same."""

    retryable = False


# -- SQLSTATEs: what each means, in one table -------------------------------------------------------

@dataclass(frozen=True)
class SqlState:
    """What a database error means to the HTTP caller, the webhook inbox and the worker alike."""

    status: int
    code: str
    # A later attempt may succeed: the row it conflicts with or waits for can change meanwhile.
    # Input that cannot be stored never can.
    retryable: bool

    @property
    def bad_input(self) -> bool:
        """The data sent is at fault (400): the inbox refuses that one delivery, a job fails for good."""
        return self.status == 400


_BAD_INPUT = SqlState(400, "invalid_parameter", retryable=False)
# SQLSTATEs our SQL functions raise on purpose, or that only input can cause. Any other database
# error is a fault of ours: a logged 500, and a queue item tried again.
SQLSTATES: dict[str, SqlState] = {
    "22023": _BAD_INPUT,  # invalid_parameter_value: our functions' refusals
    "22P02": _BAD_INPUT,  # invalid_text_representation (a bad uuid, number or enum value)
    # Text Postgres cannot hold: U+0000 in jsonb (22P05) or bytes not valid in the encoding (22021).
    "22P05": _BAD_INPUT,  # untranslatable_character
    "22021": _BAD_INPUT,  # character_not_in_repertoire
    "22003": _BAD_INPUT,  # numeric_value_out_of_range (a number past bigint)
    "22007": _BAD_INPUT,  # invalid_datetime_format
    "22008": _BAD_INPUT,  # datetime_field_overflow
    "22009": _BAD_INPUT,  # invalid_time_zone_displacement_value (an offset past 15:59)
    "23514": SqlState(400, "constraint_violated", retryable=False),  # check_violation
    "P0002": SqlState(404, "not_found", retryable=False),  # no_data_found
    "55000": SqlState(409, "conflict", retryable=True),  # object_not_in_prerequisite_state
    "23505": SqlState(409, "conflict", retryable=True),  # unique_violation
    # A missing or still-referenced row, answered 409 as PostgREST does.
    "23503": SqlState(409, "conflict", retryable=True),  # foreign_key_violation
    "42501": SqlState(403, "forbidden", retryable=False),  # insufficient_privilege (RLS or a missing grant)
    # A per-user cap (supabase/schemas/29_service_limits.sql); the message names it. PostgREST
    # answers its PTxyz codes with HTTP xyz, so a direct write gets a 409 too. Retrying does not
    # help until the user deletes something (or files expire).
    "PT409": SqlState(409, "limit_reached", retryable=False),
}


def sqlstate_of(exc: psycopg.Error) -> SqlState | None:
    """The declared meaning of a database error, or None for a real fault. A DataError without a
    SQLSTATE is psycopg refusing a value before sending it (a NUL character, which Postgres text
    cannot hold): bad input, as Postgres' own 22P05 for the same character in jsonb."""
    if exc.sqlstate is None and isinstance(exc, psycopg.DataError):
        return _BAD_INPUT
    return SQLSTATES.get(exc.sqlstate or "")


def from_database(exc: psycopg.Error) -> ApiError | None:
    """The HTTP meaning of a database error raised on purpose, or None for a real fault."""
    meaning = sqlstate_of(exc)
    if meaning is None:
        return None
    return ApiError(exc.diag.message_primary or meaning.code, code=meaning.code, status=meaning.status)


def retryable(exc: BaseException) -> bool:
    """Whether a queue item that failed with `exc` is tried again: the worker's one retry decision.

    Our own errors say so themselves; a database error by its declared SQLSTATE; anything else is
    an unexpected fault, tried again within the item's attempt cap.
    """
    if isinstance(exc, HavenError):
        return exc.retryable
    if isinstance(exc, psycopg.Error):
        meaning = sqlstate_of(exc)
        return meaning is None or meaning.retryable
    return True


def retry_delay(exc: BaseException) -> float | None:
    """The least wait, in seconds, before the item that failed with `exc` is tried again: what a
    rate-limited provider said (Retry-After, a limit's reset), or None when only the queue's backoff
    applies. Read beside `retryable`: the worker never retries sooner than this."""
    if isinstance(exc, ProviderError) and exc.retryable and exc.retry_after is not None:
        return max(0.0, exc.retry_after)
    return None


def provider_failure(exc: ProviderError) -> ApiError:
    """What a provider's failure on a request's path means to its caller (a queued operation records
    it instead): refused credentials are the user's to fix (409), anything else is the provider's
    (502). The reason names statuses and codes (and a refusal's own words), never a credential."""
    if isinstance(exc, ProviderAuthError):
        return Conflict(f"{exc.provider} refused the stored credentials ({exc.reason}); reconnect it",
                        code="reconnect_required")
    if isinstance(exc, ProviderRejected):
        return UpstreamError(f"{exc.provider} refused the request: {exc.reason}", code="upstream_rejected")
    return UpstreamError(f"{exc.provider} could not answer: {exc.reason}")


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or None, "problem": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(exc.body()), exc.status

    @app.errorhandler(ProviderError)
    def provider_error(exc: ProviderError):  # type: ignore[no-untyped-def]
        answer = provider_failure(exc)
        return jsonify(answer.body()), answer.status

    @app.errorhandler(PermanentError)
    def permanent_error(exc: PermanentError):  # type: ignore[no-untyped-def]
        # Raised on a request's path: a connection that cannot be used (tokens.NotConnected,
        # ReconnectRequired). The caller must act first; its messages name no secret.
        return jsonify({"error": getattr(exc, "code", "cannot_proceed"), "message": str(exc)}), 409

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
