"""Klaviyo: check a private API key with GET /api/accounts, then count lists through GET /api/lists,
following `links.next` to the end (pages hold at most 10 lists); the same lists are the choices
of the integration's default list (service/integrations/routes.py).

Every request carries `Authorization: Klaviyo-API-Key <key>`, the `revision` header (required;
KLAVIYO_REVISION) and `Accept: application/vnd.api+json`. Errors are JSON:API `{"errors": [...]}`.
"""
from __future__ import annotations

from typing import Any

import requests

from ..config import Settings
from ..errors import ProviderAuthError, ProviderUnavailable
from ..integrations.catalog import Provider
from .http import Transport, error_field, json_object, unavailable_unless_ok

NAME = "klaviyo"
# 10 lists a page: 10,000 lists is far past any shop, and still ends a provider that loops.
MAX_LIST_PAGES = 1000


def _transport(settings: Settings, api_key: str, timeout: float) -> Transport:
    headers = {"Authorization": f"Klaviyo-API-Key {api_key}", "revision": settings.klaviyo_revision,
               "Accept": "application/vnd.api+json"}
    return Transport(NAME, base_url=settings.klaviyo_api_base, timeout=timeout, headers=headers, auth_statuses=())


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    with _transport(settings, api_key, settings.api_key_check_timeout_seconds) as http:
        account = _first_resource(_get(http, "/api/accounts"), "account")
        contact = _member(_member(account, "attributes"), "contact_information")
        return {
            "account_id": str(account["id"]),
            "account_name": contact.get("organization_name"),
            "list_count": len(_lists(http)),
        }


def lists(settings: Settings, api_key: str) -> list[tuple[str, str]]:
    """Every list of the account as (id, name), in Klaviyo's order: the choices of a default list."""
    with _transport(settings, api_key, settings.http_timeout_seconds) as http:
        return _lists(http)


def _lists(http: Transport) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    url, seen = "/api/lists", set()
    for _ in range(MAX_LIST_PAGES):
        page = _get(http, url)
        data = page.get("data")
        if not isinstance(data, list):
            raise ProviderUnavailable(NAME, "a lists page has no data array")
        for resource in data:
            if not isinstance(resource, dict) or not isinstance(resource.get("id"), str) or not resource["id"]:
                raise ProviderUnavailable(NAME, "a list without an id")
            name = _member(resource, "attributes").get("name")
            found.append((resource["id"], name if isinstance(name, str) else resource["id"]))
        next_url = _member(page, "links").get("next")
        if not next_url:
            return found
        if not isinstance(next_url, str) or next_url in seen:
            raise ProviderUnavailable(NAME, "the lists pagination does not progress")
        seen.add(next_url)
        url = next_url
    raise ProviderUnavailable(NAME, f"more than {MAX_LIST_PAGES} pages of lists")


def _get(http: Transport, url: str) -> dict[str, Any]:
    response = http.get(url)
    if response.status_code in (401, 403):
        raise ProviderAuthError(NAME, _rejection(response), status=response.status_code)
    unavailable_unless_ok(response, NAME)
    return json_object(response, NAME)


def _rejection(response: requests.Response) -> str:
    code = error_field(response, "errors", 0, "code")
    if response.status_code == 403:
        return (f"Klaviyo refused the key (403 {code or 'permission_denied'}): it needs the "
                "accounts:read and lists:read scopes")
    return f"Klaviyo rejected the key (401 {code or 'not_authenticated'})"


def _member(document: dict[str, Any], name: str) -> dict[str, Any]:
    """`document[name]`, {} when absent or null. Any other non-object is an answer we cannot read:
    ProviderUnavailable (a 502), not an AttributeError (a 500)."""
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProviderUnavailable(NAME, f"the answer's {name} is not an object")
    return value


def _first_resource(document: dict[str, Any], kind: str) -> dict[str, Any]:
    data = document.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "id" not in data[0]:
        raise ProviderUnavailable(NAME, f"the answer holds no {kind}")
    return data[0]


PROVIDER = Provider(
    name=NAME, label="Klaviyo", description="Email marketing, flows, and customer segments", icon="klaviyo",
    auth_type="api_key", required=True, setup_order=3, docs_url="https://docs.havenhold.com/integrations/klaviyo",
    check_key=check_key, lists=lists)
