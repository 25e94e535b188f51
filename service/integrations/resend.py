"""Resend: check an API key with GET /domains (`Authorization: Bearer <key>`; Resend refuses a
request without a User-Agent). Metadata: `domain_verified` (any domain verified).

A sending-only key authenticates but may not list domains (401 `restricted_api_key`): it is a
genuine key and good for sending, so it connects, with `domain_verified` unknown (null).
"""
from __future__ import annotations

from typing import Any

import requests

from ..config import Settings
from .provider_http import (InvalidApiKey, KeyCheckSession, ProviderUnavailable, json_object, safe_code,
                            unavailable_unless_ok)

MAX_DOMAIN_PAGES = 100


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    with KeyCheckSession(settings.resend_api_base, settings.api_key_check_timeout_seconds, headers) as http:
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
                    raise ProviderUnavailable(f"refused by a proxy ({response.status_code})")
                raise InvalidApiKey(f"Resend rejected the key ({response.status_code} {name})")
            unavailable_unless_ok(response)
            page = json_object(response)
            data = page.get("data")
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise ProviderUnavailable("the domains answer has no data array")
            domains.extend(data)
            if not page.get("has_more") or not data or "id" not in data[-1]:
                return {"domain_verified": any(d.get("status") == "verified" for d in domains),
                        "key_access": "full_access"}
            params = {"limit": "100", "after": str(data[-1]["id"])}
        raise ProviderUnavailable(f"more than {MAX_DOMAIN_PAGES} pages of domains")


def _error_name(response: requests.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    return safe_code(body.get("name", "")) if isinstance(body, dict) else ""
