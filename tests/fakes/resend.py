"""A fake Resend (api.resend.com) following its documented contract:

- a request without a User-Agent is refused with 403 and a non-JSON body ("error code: 1010");
- `Authorization: Bearer <key>`: missing, 401 missing_api_key; unknown, 403 invalid_api_key;
  a sending-only key, 401 restricted_api_key on GET /domains;
- GET /domains lists domains (`limit` 1-100, `after` cursor = the last id, `has_more`);
- errors are `{"statusCode", "name", "message"}`; 429 rate_limit_exceeded with retry-after;
- POST /emails (sending-only keys may send) requires from, to, subject and attachments with a
  filename and base64 content, answers 200 `{"id"}`, and honours `Idempotency-Key` as documented:
  1-256 characters (else 400 invalid_idempotency_key); the same key with the same payload answers
  the first email's id without sending again; the same key with another payload is 409
  invalid_idempotent_request. Every accepted email is kept in `emails`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

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
        self.emails: list[SentEmail] = []
        self.send_requests = 0
        self._idempotent: dict[str, tuple[str, str]] = {}  # key -> (payload digest, email id)
        self._failing_sends: list[int] = []
        self._stall_next_accept = False
        self._stall_released = threading.Event()
        server.expect_request("/emails", method="POST").respond_with_handler(self.send_email)

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

    # -- POST /emails ------------------------------------------------------------------------------

    def send_email(self, request: Request) -> Response:
        self.send_requests += 1
        if not request.headers.get("User-Agent"):
            self.seen.append(request)
            return Response("error code: 1010", status=403, content_type="text/plain")
        refused = self.failure(request) or self.refuse_sender(request)
        if refused:
            return refused
        if self._failing_sends:
            return self.error(self._failing_sends.pop(0), "internal_server_error", "An unexpected error occurred.")
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 256:
            return self.error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        try:
            payload = json.loads(request.get_data())
        except ValueError:
            return self.error(422, "validation_error", "The body is not JSON.")
        invalid = self.invalid_email(payload)
        if invalid:
            return invalid
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self._idempotent:
            first_digest, first_id = self._idempotent[key]
            if first_digest != digest:
                return self.error(409, "invalid_idempotent_request",
                                  "Same idempotency key used with a different request payload.")
            return json_response({"id": first_id})
        email = SentEmail(str(uuid.uuid4()), key, payload)
        self.emails.append(email)
        if key is not None:
            self._idempotent[key] = (digest, email.id)
        if self._stall_next_accept:
            # Accepted and sent, but the answer is held back until the client has given up on it.
            self._stall_next_accept = False
            self._stall_released.wait(self.slow_hold_seconds)
        return json_response({"id": email.id})

    def refuse_sender(self, request: Request) -> Response | None:
        """Sending-only keys may send."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.error(401, "missing_api_key", "Missing API key in the authorization header.")
        key = auth.removeprefix("Bearer ")
        if key not in self.keys and key not in self.sending_only_keys:
            return self.error(403, "invalid_api_key", "API key is invalid.")
        return None

    def invalid_email(self, payload: object) -> Response | None:
        if not isinstance(payload, dict) or not all(payload.get(name) for name in ("from", "to", "subject")):
            return self.error(422, "missing_required_field",
                              "The request body is missing one or more required fields.")
        for attachment in payload.get("attachments") or []:
            if not isinstance(attachment, dict) or not attachment.get("filename") or not (
                    attachment.get("content") or attachment.get("path")):
                return self.error(422, "invalid_attachment", "Attachment must have either a `content` or `path`.")
            try:
                base64.b64decode(attachment.get("content") or "", validate=True)
            except (binascii.Error, ValueError):
                return self.error(422, "invalid_attachment", "Attachment content is not base64.")
        return None

    def fail_next_sends(self, count: int, status: int = 500) -> None:
        """The next `count` sends answer `status`: nothing is sent and the key is not used."""
        self._failing_sends.extend([status] * count)

    def stall_next_accept(self) -> None:
        """The next email is accepted and sent, but its answer is held until `release_stalled()`."""
        self._stall_released.clear()
        self._stall_next_accept = True

    def release_stalled(self) -> None:
        self._stall_released.set()

    def close(self) -> None:
        self.release_stalled()
        super().close()

    def rate_limited(self) -> Response:
        return self.error(429, "rate_limit_exceeded", "Too many requests.", headers={"retry-after": "1"})

    @staticmethod
    def error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"statusCode": status, "name": name, "message": message}, status, headers=headers)


@dataclass(frozen=True)
class SentEmail:
    id: str
    idempotency_key: str | None
    payload: dict[str, Any]

    def attachment(self, index: int = 0) -> bytes:
        return base64.b64decode(self.payload["attachments"][index]["content"], validate=True)
