"""Resend: check an API key with GET /domains (`Authorization: Bearer <key>`; Resend refuses a
request without a User-Agent). Metadata: `domain_verified` (any domain verified).

A sending-only key authenticates but may not list domains (401 `restricted_api_key`): it is a
genuine key and good for sending, so it connects, with `domain_verified` unknown (null).
"""
from __future__ import annotations

from typing import Any

import requests

from ..config import Settings
from .provider_http import (USER_AGENT, InvalidApiKey, KeyCheckSession, ProviderUnavailable, json_object, safe_code,
                            unavailable_unless_ok)

PROVIDER = "resend"
MAX_DOMAIN_PAGES = 100


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    with KeyCheckSession(PROVIDER, settings.resend_api_base, settings.api_key_check_timeout_seconds, headers) as http:
        params: dict[str, str] = {"limit": "100"}
        domains: list[dict[str, Any]] = []
        for _ in range(MAX_DOMAIN_PAGES):
            response = http.get("/domains", params=params)
            name = _error_name(response)
            if response.status_code == 401 and name == "restricted_api_key":
                return {"domain_verified": None, "key_access": "sending_only"}
            if response.status_code in (401, 403):
                if not name:
                    # Resend's own refusals are JSON; anything else came from a proxy in front.
                    raise ProviderUnavailable(PROVIDER, f"refused by a proxy ({response.status_code})")
                raise InvalidApiKey(PROVIDER, f"Resend rejected the key ({response.status_code} {name})")
            unavailable_unless_ok(response, PROVIDER)
            page = json_object(response, PROVIDER)
            data = page.get("data")
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise ProviderUnavailable(PROVIDER, "the domains answer has no data array")
            domains.extend(data)
            if not page.get("has_more") or not data or "id" not in data[-1]:
                return {"domain_verified": any(d.get("status") == "verified" for d in domains),
                        "key_access": "full_access"}
            params = {"limit": "100", "after": str(data[-1]["id"])}
        raise ProviderUnavailable(PROVIDER, f"more than {MAX_DOMAIN_PAGES} pages of domains")


def _error_name(response: requests.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    return safe_code(body.get("name", "")) if isinstance(body, dict) else ""


# --- Sending (scheduled exports) ----------------------------------------------------------------

# Resend's limit on one email, attachments included, after base64 encoding.
MAX_EMAIL_BYTES = 40_000_000


class EmailRefused(Exception):
    """Resend refused the email for a reason retrying cannot fix (key, sender, recipient, payload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def send_email(settings: Settings, api_key: str, message: dict[str, Any], idempotency_key: str) -> str:
    """POST /emails with an Idempotency-Key; returns Resend's email id.

    Resend answers a repeated key with the same payload with the first answer (same id, no second
    email), so a retry after a timeout is safe. EmailRefused when retrying cannot help;
    ProviderUnavailable when it may (timeout, 429, 5xx, the same key still in flight).
    """
    if not 1 <= len(idempotency_key) <= 256:
        raise ValueError("an Idempotency-Key has 1 to 256 characters")
    with requests.Session() as session:
        session.headers.update({"User-Agent": USER_AGENT, "Authorization": f"Bearer {api_key}",
                                "Accept": "application/json", "Idempotency-Key": idempotency_key})
        try:
            response = session.post(settings.resend_api_base.rstrip("/") + "/emails", json=message,
                                    timeout=settings.http_timeout_seconds, allow_redirects=False)

        except requests.Timeout:
            raise ProviderUnavailable(PROVIDER, f"Resend did not answer within {settings.http_timeout_seconds:g} s") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(PROVIDER, f"could not connect to Resend ({type(exc).__name__})") from None
    name = _error_name(response)
    status = response.status_code
    if 200 <= status < 300:
        email_id = json_object(response, PROVIDER).get("id")
        if not isinstance(email_id, str) or not email_id:
            raise ProviderUnavailable(PROVIDER, "Resend's answer has no email id")
        return email_id
    if status == 409 and name == "concurrent_idempotent_requests":
        raise ProviderUnavailable(PROVIDER, "an earlier attempt with the same Idempotency-Key is still in progress")
    if status == 409 and name == "invalid_idempotent_request":
        raise EmailRefused("Resend already accepted an email for this run with other content; not sent again")
    if status in (401, 403) and not name:
        raise ProviderUnavailable(PROVIDER, f"refused by a proxy ({status})")
    if status == 429 or status >= 500:
        unavailable_unless_ok(response, PROVIDER)
    if 400 <= status < 500:
        raise EmailRefused(f"Resend refused the email ({status} {name or 'no error name'})")
    raise ProviderUnavailable(PROVIDER, f"unexpected status {status}")  # a redirect or 1xx
