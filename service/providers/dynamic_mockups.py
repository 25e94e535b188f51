"""Dynamic Mockups: check an API key with GET /api/v1/catalogs (`x-api-key`, `Accept: application/json`).

The API has no credits or account endpoint, so `credits_remaining` (in the plan's metadata) is
left out rather than invented; the metadata says how many catalogs the key sees.
"""
from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import ProviderAuthError, ProviderUnavailable
from ..integrations.catalog import Provider
from .http import Transport, json_object, unavailable_unless_ok

NAME = "dynamic_mockups"


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    headers = {"x-api-key": api_key, "Accept": "application/json"}
    with Transport(NAME, base_url=settings.dynamic_mockups_api_base,
                   timeout=settings.api_key_check_timeout_seconds, headers=headers, auth_statuses=()) as http:
        response = http.get("/api/v1/catalogs")
        if response.status_code in (401, 403):
            raise ProviderAuthError(NAME, f"Dynamic Mockups rejected the key ({response.status_code})",
                                    status=response.status_code)
        unavailable_unless_ok(response, NAME)
        body = json_object(response, NAME)
        catalogs = body.get("data")
        if body.get("success") is False or not isinstance(catalogs, list):
            raise ProviderUnavailable(NAME, "the catalogs answer has no data array")
        return {"catalog_count": len(catalogs)}


PROVIDER = Provider(
    name=NAME, label="Dynamic Mockups", description="Generate product mockups automatically",
    icon="dynamic_mockups", auth_type="api_key", required=True, setup_order=4,
    docs_url="https://docs.havenhold.com/integrations/dynamic-mockups", check_key=check_key)
