"""Dynamic Mockups: check an API key with GET /api/v1/catalogs (`x-api-key`, `Accept: application/json`).

The API has no credits or account endpoint, so `credits_remaining` (in the plan's metadata) is
left out rather than invented; the metadata says how many catalogs the key sees.
"""
from __future__ import annotations

from typing import Any

from ..config import Settings
from .provider_http import InvalidApiKey, KeyCheckSession, ProviderUnavailable, json_object, unavailable_unless_ok

PROVIDER = "dynamic_mockups"


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    headers = {"x-api-key": api_key, "Accept": "application/json"}
    with KeyCheckSession(PROVIDER, settings.dynamic_mockups_api_base, settings.api_key_check_timeout_seconds,
                         headers) as http:
        response = http.get("/api/v1/catalogs")
        if response.status_code in (401, 403):
            raise InvalidApiKey(PROVIDER, f"Dynamic Mockups rejected the key ({response.status_code})")
        unavailable_unless_ok(response, PROVIDER)
        body = json_object(response, PROVIDER)
        catalogs = body.get("data")
        if body.get("success") is False or not isinstance(catalogs, list):
            raise ProviderUnavailable(PROVIDER, "the catalogs answer has no data array")
        return {"catalog_count": len(catalogs)}
