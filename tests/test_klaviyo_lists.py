"""Klaviyo's lists (issue 14, item 5) against the fake: offered through the API and the console
(every page, followed through links.next), the chosen default_list_id stored in the integration's
metadata, an id the account does not have refused, the provider's failures answered once."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.fakes.klaviyo import FakeKlaviyo

from .support.console import console_app, post_form, sign_in_locally
from .support.db import sql

KEY = "pk_good_klaviyo_key_0001"


@pytest.fixture
def settings(settings, httpserver):  # type: ignore[no-untyped-def]
    return replace(settings, klaviyo_api_base=httpserver.url_for("/").rstrip("/"))


@pytest.fixture
def klaviyo(httpserver):  # type: ignore[no-untyped-def]
    fake = FakeKlaviyo(httpserver, keys=(KEY,), list_count=23)  # three pages of at most 10
    yield fake
    fake.close()


def _connect(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/integrations/klaviyo/connect", headers=user.headers, json={"api_key": KEY})
    assert response.status_code == 200, response.json


def _metadata(url: str, user_id: str) -> dict:
    return sql(url, "select metadata from public.integrations where user_id = %s and provider = 'klaviyo'",
               [user_id])[0][0]


def test_the_lists_are_offered_and_the_chosen_default_is_stored(client, klaviyo, user, database_url):
    _connect(client, user)
    response = client.get("/api/integrations/klaviyo/lists", headers=user.headers)
    assert response.status_code == 200
    lists = response.json["lists"]
    assert len(lists) == 23 and lists[0] == {"id": "L00000", "name": "List 0"} and lists[22]["id"] == "L00022"
    assert response.json["default_list_id"] is None
    pages = [r for r in klaviyo.seen if r.path.startswith("/api/lists")]
    assert all(r.headers["revision"] and r.headers["Authorization"] == f"Klaviyo-API-Key {KEY}" for r in pages)

    chosen = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": "L00021"})
    assert chosen.status_code == 200, chosen.json
    assert chosen.json["metadata"]["default_list_id"] == "L00021"
    metadata = _metadata(database_url, user.id)
    assert metadata["default_list_id"] == "L00021" and metadata["default_list_name"] == "List 21"
    assert metadata["list_count"] == 23 and metadata["account_name"] == "Haven Prints"  # the rest is kept
    assert client.get("/api/integrations/klaviyo/lists", headers=user.headers).json["default_list_id"] == "L00021"
    assert sql(database_url, "select details ->> 'list_id' from public.activity_log where user_id = %s"
                             " and action_type = 'integration_default_list_chosen'", [user.id]) == [("L00021",)]

    cleared = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": None})
    assert cleared.status_code == 200 and _metadata(database_url, user.id)["default_list_id"] is None


def test_a_list_the_account_does_not_have_is_refused(client, klaviyo, user, database_url):
    _connect(client, user)
    client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": "L00003"})
    for list_id in ("L99999", "l00003"):
        refused = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": list_id})
        assert refused.status_code == 409 and refused.json["error"] == "unknown_list"
    # A list deleted in Klaviyo since is no longer a choice.
    klaviyo.list_names = klaviyo.list_names[:3]
    refused = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": "L00005"})
    assert refused.status_code == 409 and refused.json["error"] == "unknown_list"
    assert _metadata(database_url, user.id)["default_list_id"] == "L00003"  # nothing changed
    for bad in ({}, {"list_id": ""}, {"list_id": "L 1"}, {"list_id": "x" * 65}, {"list_id": 5},
                {"list_id": "L00003", "extra": 1}):
        response = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json=bad)
        assert response.status_code == 400 and response.json["error"] == "invalid_request", bad


def test_lists_need_a_connection_and_a_provider_that_has_lists(client, klaviyo, user):
    response = client.get("/api/integrations/klaviyo/lists", headers=user.headers)
    assert response.status_code == 409 and response.json["error"] == "not_connected"
    response = client.put("/api/integrations/klaviyo/default-list", headers=user.headers, json={"list_id": "L00001"})
    assert response.status_code == 409 and response.json["error"] == "not_connected"
    assert client.get("/api/integrations/resend/lists", headers=user.headers).status_code == 400
    assert client.get("/api/integrations/nobody/lists", headers=user.headers).status_code == 400


def test_klaviyo_failures_are_answered_once(client, klaviyo, user, database_url):
    _connect(client, user)
    klaviyo.mode = "down"
    down = client.get("/api/integrations/klaviyo/lists", headers=user.headers)
    assert down.status_code == 502 and down.json["error"] == "upstream_unavailable"
    klaviyo.mode = "rate_limited"
    assert client.put("/api/integrations/klaviyo/default-list", headers=user.headers,
                      json={"list_id": "L00001"}).status_code == 502
    klaviyo.mode = "ok"
    klaviyo.keys.clear()  # the key was revoked in Klaviyo
    refused = client.get("/api/integrations/klaviyo/lists", headers=user.headers)
    assert refused.status_code == 409 and refused.json["error"] == "reconnect_required"
    assert KEY not in refused.get_data(as_text=True)
    assert "default_list_id" not in _metadata(database_url, user.id)


def test_the_console_offers_the_lists_and_saves_the_choice(settings, db, klaviyo, database_url):
    browser = console_app(settings, db).test_client()
    sign_in_locally(browser, "owner@haven.local")
    connected = post_form(browser, "/console/integrations", "/console/integrations/klaviyo/connect",
                          {"api_key": KEY})
    assert connected.status_code == 303
    page = browser.get("/console/integrations").get_data(as_text=True)
    assert 'href="/console/integrations/klaviyo/default-list"' in page
    form = browser.get("/console/integrations/klaviyo/default-list").get_data(as_text=True)
    assert form.count("<option value=\"L") == 23 and ">List 22</option>" in form
    saved = post_form(browser, "/console/integrations/klaviyo/default-list",
                      "/console/integrations/klaviyo/default-list", {"list_id": "L00007"})
    assert saved.status_code == 303
    page = browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert "default list is saved" in page and "List 7" in page
    user_id = sql(database_url, "select id::text from auth.users where email = 'owner@haven.local'")[0][0]
    assert _metadata(database_url, user_id)["default_list_id"] == "L00007"
    assert 'value="L00007" selected' in browser.get("/console/integrations/klaviyo/default-list").get_data(as_text=True)
    refused = post_form(browser, "/console/integrations/klaviyo/default-list",
                        "/console/integrations/klaviyo/default-list", {"list_id": "L99999"})
    assert refused.status_code == 409 and "no list L99999" in refused.get_data(as_text=True)
    klaviyo.mode = "down"
    down = browser.get("/console/integrations/klaviyo/default-list")
    assert down.status_code == 502
