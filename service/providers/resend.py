"""Resend: check an API key with GET /domains (`Authorization: Bearer <key>`; Resend refuses a
request without a User-Agent). Metadata: `domain_verified` (any domain verified).

A sending-only key authenticates but may not list domains (401 `restricted_api_key`): it is a
genuine key and good for sending, so it connects, with `domain_verified` unknown (null).
"""
from __future__ import annotations

from typing import Any

from collections.abc import Mapping

from ..config import Settings
from ..errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from ..integrations.catalog import Mailer, Provider
from .http import Transport, error_field, json_object, unavailable_unless_ok

NAME = "resend"
MAX_DOMAIN_PAGES = 100


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    with Transport(NAME, base_url=settings.resend_api_base, timeout=settings.api_key_check_timeout_seconds,
                   headers=headers, auth_statuses=()) as http:
        params: dict[str, str] = {"limit": "100"}
        domains: list[dict[str, Any]] = []
        for _ in range(MAX_DOMAIN_PAGES):
            response = http.get("/domains", params=params)
            name = error_field(response, "name")
            if response.status_code == 401 and name == "restricted_api_key":
                return {"domain_verified": None, "key_access": "sending_only"}
            if response.status_code in (401, 403):
                if not name:
                    # Resend's own refusals are JSON; anything else came from a proxy in front.
                    raise ProviderUnavailable(NAME, f"refused by a proxy ({response.status_code})")
                raise ProviderAuthError(NAME, f"Resend rejected the key ({response.status_code} {name})",
                                        status=response.status_code)
            unavailable_unless_ok(response, NAME)
            page = json_object(response, NAME)
            data = page.get("data")
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise ProviderUnavailable(NAME, "the domains answer has no data array")
            domains.extend(data)
            if not page.get("has_more") or not data or "id" not in data[-1]:
                return {"domain_verified": any(d.get("status") == "verified" for d in domains),
                        "key_access": "full_access"}
            params = {"limit": "100", "after": str(data[-1]["id"])}
        raise ProviderUnavailable(NAME, f"more than {MAX_DOMAIN_PAGES} pages of domains")



# --- Sending (scheduled exports) ----------------------------------------------------------------

# Resend's limit on one email, attachments included, after base64 encoding.
MAX_EMAIL_BYTES = 40_000_000


def send_email(settings: Settings, api_key: str, message: Mapping[str, Any], idempotency_key: str) -> str:
    """POST /emails with an Idempotency-Key; returns Resend's email id.

    Resend answers a repeated key with the same payload with the first answer (same id, no second
    email), so a retry after a timeout is safe. ProviderRejected when retrying cannot help (key,
    sender, recipient, payload); ProviderUnavailable when it may (timeout, 429, 5xx, the same key
    still in flight).
    """
    if not 1 <= len(idempotency_key) <= 256:
        raise ValueError("an Idempotency-Key has 1 to 256 characters")
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json",
               "Idempotency-Key": idempotency_key}
    with Transport(NAME, base_url=settings.resend_api_base, timeout=settings.http_timeout_seconds,
                   headers=headers, auth_statuses=()) as http:
        response = http.post("/emails", json=dict(message))
    name = error_field(response, "name")
    status = response.status_code
    if 200 <= status < 300:
        email_id = json_object(response, NAME).get("id")
        if not isinstance(email_id, str) or not email_id:
            raise ProviderUnavailable(NAME, "Resend's answer has no email id")
        return email_id
    if status == 409 and name == "concurrent_idempotent_requests":
        raise ProviderUnavailable(NAME, "an earlier attempt with the same Idempotency-Key is still in progress")
    if status == 409 and name == "invalid_idempotent_request":
        raise ProviderRejected(NAME, "Resend already accepted an email for this run with other content;"
                                         " not sent again", status=status)
    if status in (401, 403) and not name:
        raise ProviderUnavailable(NAME, f"refused by a proxy ({status})", status=status)
    if 400 <= status < 500:
        raise ProviderRejected(NAME, f"Resend refused the email ({status} {name or 'no error name'})",
                               status=status)
    raise ProviderUnavailable(NAME, f"unexpected status {status}", status=status)  # a redirect or 1xx


PROVIDER = Provider(
    name=NAME, label="Resend", description="Transactional emails and notifications", icon="resend",
    auth_type="api_key", required=False, setup_order=5, docs_url="https://docs.havenhold.com/integrations/resend",
    check_key=check_key, mailer=Mailer(send=send_email, max_message_bytes=MAX_EMAIL_BYTES))
