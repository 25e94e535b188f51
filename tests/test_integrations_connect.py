"""Connecting and disconnecting the API-key providers, over HTTP, against local fake providers."""
from __future__ import annotations

import http.client
import logging
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
import requests

from service.config import Settings
from service.db import Database
from service.integrations.catalog import Catalog
from tests.fakes.dynamic_mockups import FakeDynamicMockups
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.resend import FakeResend

KLAVIYO_KEY = "pk_good_klaviyo_key_0001"
RESEND_KEY = "re_good_resend_key_0001"
MOCKUPS_KEY = "dm_good_key_0001"
SKY_PILOT_KEY = "sp_live_0123456789abcdef"


@pytest.fixture
def settings(settings: Settings, httpserver) -> Settings:  # type: ignore[no-untyped-def]
    base = httpserver.url_for("/").rstrip("/")
    return replace(settings, klaviyo_api_base=base, resend_api_base=base, dynamic_mockups_api_base=base,
                   api_key_check_timeout_seconds=1.0)


@pytest.fixture
def klaviyo(httpserver) -> Iterator[FakeKlaviyo]:  # type: ignore[no-untyped-def]
    fake = FakeKlaviyo(httpserver, keys=(KLAVIYO_KEY, "pk_second_klaviyo_key_02"),
                       keys_without_lists_scope=("pk_no_lists_scope_key_03",))
    yield fake
    fake.close()


@pytest.fixture
def resend(httpserver) -> Iterator[FakeResend]:  # type: ignore[no-untyped-def]
    fake = FakeResend(httpserver, keys=(RESEND_KEY,), sending_only_keys=("re_sending_only_key_0002",),
                      domains=(("a.test", "pending"), ("b.test", "failed"), ("haven.test", "verified")))
    yield fake
    fake.close()


@pytest.fixture
def mockups(httpserver) -> Iterator[FakeDynamicMockups]:  # type: ignore[no-untyped-def]
    fake = FakeDynamicMockups(httpserver, keys=(MOCKUPS_KEY,), catalogs=3)
    yield fake
    fake.close()


def row(db: Database, user_id: str, provider: str) -> dict | None:
    with db.as_service() as conn:
        return conn.execute("select * from public.integrations where user_id = %s and provider = %s",
                            [user_id, provider]).fetchone()


def stored(db: Database, user_id: str, provider: str, credential_type: str = "api_key") -> str | None:
    with db.as_service() as conn:
        return conn.execute("select public.get_credential(%s, %s, %s, 'tests', 'check what is stored') as v",
                            [user_id, provider, credential_type]).fetchone()["v"]


def secret_count(database_url: str, user_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("select count(*) from vault.secrets where name like %s",
                            [f"%{user_id}%"]).fetchone()[0]


def progress_of(db: Database, user_id: str) -> dict:
    with db.as_service() as conn:
        return conn.execute("select setup_progress from public.user_settings where user_id = %s",
                            [user_id]).fetchone()["setup_progress"]


# --- the catalog ----------------------------------------------------------------------------

def test_list_shows_every_provider_in_setup_order_without_rows(client, user):
    response = client.get("/api/integrations", headers=user.headers)
    assert response.status_code == 200
    body = response.json
    assert [i["provider"] for i in body] == ["shopify", "pinterest", "klaviyo", "dynamic_mockups", "resend",
                                             "sky_pilot"]
    assert [i["setup_order"] for i in body] == [1, 2, 3, 4, 5, 6]
    shopify = body[0]
    assert shopify["auth_type"] == "oauth" and shopify["required"] is True
    assert shopify["docs_url"] == "https://docs.havenhold.com/integrations/shopify"
    assert all(i["status"] == "disconnected" and i["connected"] is False and i["metadata"] == {} for i in body)
    assert body[5]["required"] is False and body[5]["auth_type"] == "api_key"


def test_list_requires_a_token(client):
    assert client.get("/api/integrations").status_code == 401


def test_list_merges_own_rows_only_and_never_a_secret(client, make_user, klaviyo, db):
    alice, bob = make_user(), make_user()
    assert client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                       headers=alice.headers).status_code == 200
    with db.as_service() as conn:
        conn.execute("select public.begin_oauth(%s, 'pinterest')", [alice.id])
    mine = {i["provider"]: i for i in client.get("/api/integrations", headers=alice.headers).json}
    assert mine["klaviyo"]["status"] == "connected" and mine["klaviyo"]["connected"] is True
    assert mine["klaviyo"]["metadata"]["list_count"] == 23
    text = client.get("/api/integrations", headers=alice.headers).get_data(as_text=True)
    assert KLAVIYO_KEY not in text and "state" not in text and "secret" not in text
    theirs = {i["provider"]: i for i in client.get("/api/integrations", headers=bob.headers).json}
    assert theirs["klaviyo"]["status"] == "disconnected" and theirs["klaviyo"]["metadata"] == {}


# --- Klaviyo --------------------------------------------------------------------------------

def test_klaviyo_connect_validates_counts_every_page_stores_logs_and_completes_the_step(
        client, user, klaviyo, db, database_url):
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                           headers=user.headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "connected" and body["connected_at"] and body["last_error"] is None
    assert body["metadata"] == {"account_id": "AbC123", "account_name": "Haven Prints", "list_count": 23}
    # One accounts call, then three pages of lists (10 + 10 + 3), each with the documented headers.
    paths = [r.path for r in klaviyo.seen]
    assert paths == ["/api/accounts", "/api/lists", "/api/lists/", "/api/lists/"]
    for request in klaviyo.seen:
        assert request.headers["Authorization"] == f"Klaviyo-API-Key {KLAVIYO_KEY}"
        assert request.headers["revision"] == "2026-10-15"
        assert request.headers["Accept"] == "application/vnd.api+json"
    assert stored(db, user.id, "klaviyo") == KLAVIYO_KEY
    assert secret_count(database_url, user.id) == 1
    assert progress_of(db, user.id)["klaviyo"] == "completed"
    with db.as_service() as conn:
        activity = conn.execute("select action_type, details from public.activity_log where user_id = %s",
                                [user.id]).fetchall()
    assert activity == [{"action_type": "integration_connected",
                         "details": {"provider": "klaviyo", "metadata": body["metadata"]}}]


def test_klaviyo_revision_is_a_setting(client, user, klaviyo, app):
    app.extensions["haven"].settings = replace(app.extensions["haven"].settings, klaviyo_revision="2026-07-15")
    assert client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                       headers=user.headers).status_code == 200
    assert {r.headers["revision"] for r in klaviyo.seen} == {"2026-07-15"}


def test_fake_klaviyo_refuses_a_request_without_revision(klaviyo):
    answer = requests.get(klaviyo.base_url + "/api/accounts", timeout=5,
                          headers={"Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}",
                                   "Accept": "application/vnd.api+json"})
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "invalid"


def test_klaviyo_rejected_key_is_400_marks_error_and_stores_nothing(client, user, klaviyo, db, database_url):
    bad_key = "pk_wrong_key_that_klaviyo_rejects"
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": bad_key}, headers=user.headers)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_api_key"
    assert "authentication_failed" in response.json["message"]
    assert bad_key not in response.get_data(as_text=True)
    record = row(db, user.id, "klaviyo")
    assert record["status"] == "error" and record["last_error_at"] is not None
    assert "rejected" in record["last_error"] and bad_key not in record["last_error"]
    assert stored(db, user.id, "klaviyo") is None
    assert secret_count(database_url, user.id) == 0
    assert progress_of(db, user.id)["klaviyo"] == "pending"


def test_klaviyo_key_without_lists_scope_is_rejected_naming_the_scopes(client, user, klaviyo, db):
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": "pk_no_lists_scope_key_03"},
                           headers=user.headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_api_key"
    assert "lists:read" in response.json["message"]
    assert stored(db, user.id, "klaviyo") is None


@pytest.mark.parametrize("mode", ["down", "rate_limited", "malformed", "slow"])
def test_klaviyo_unavailable_is_502_and_changes_nothing(client, user, klaviyo, db, mode):
    klaviyo.mode = mode
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                           headers=user.headers)
    assert response.status_code == 502
    assert response.json["error"] == "upstream_unavailable"
    assert KLAVIYO_KEY not in response.get_data(as_text=True)
    assert row(db, user.id, "klaviyo") is None
    assert stored(db, user.id, "klaviyo") is None


def test_klaviyo_rate_limit_message_carries_retry_after(client, user, klaviyo):
    klaviyo.mode = "rate_limited"
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                           headers=user.headers)
    assert "429" in response.json["message"] and "retry after 2 s" in response.json["message"]


def test_klaviyo_unreachable_is_502(client, user, app, db):
    # A port nothing listens on: connection refused.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.extensions["haven"].settings = replace(app.extensions["haven"].settings,
                                               klaviyo_api_base=f"http://127.0.0.1:{port}")
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                           headers=user.headers)
    assert response.status_code == 502 and row(db, user.id, "klaviyo") is None


def test_klaviyo_next_link_to_another_host_is_not_followed(client, user, klaviyo, db):
    klaviyo.next_link_base = "http://collector.invalid"
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                           headers=user.headers)
    assert response.status_code == 502 and "another host" in response.json["message"]
    assert stored(db, user.id, "klaviyo") is None


def test_reconnecting_with_a_new_key_replaces_it_in_place(client, user, klaviyo, db, database_url):
    client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY}, headers=user.headers)
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": "pk_second_klaviyo_key_02"},
                           headers=user.headers)
    assert response.status_code == 200
    assert stored(db, user.id, "klaviyo") == "pk_second_klaviyo_key_02"
    assert secret_count(database_url, user.id) == 1


def test_a_rejected_new_key_leaves_a_working_connection_alone(client, user, klaviyo, db):
    client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY}, headers=user.headers)
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": "pk_typo_typo_typo_typo"},
                           headers=user.headers)
    assert response.status_code == 400
    record = row(db, user.id, "klaviyo")
    assert record["status"] == "connected" and record["last_error"] is not None
    assert stored(db, user.id, "klaviyo") == KLAVIYO_KEY


# --- Resend ---------------------------------------------------------------------------------

def test_resend_connect_pages_domains_and_records_from_email(client, user, resend, db, httpserver):
    response = client.post("/api/integrations/resend/connect",
                           json={"api_key": RESEND_KEY, "from_email": "hello@haven.test"}, headers=user.headers)
    assert response.status_code == 200, response.json
    assert response.json["metadata"] == {"domain_verified": True, "key_access": "full_access",
                                         "from_email": "hello@haven.test"}
    request = resend.seen[0]
    assert request.headers["Authorization"] == f"Bearer {RESEND_KEY}"
    assert request.headers["User-Agent"].startswith("haven-hub-core/")
    assert stored(db, user.id, "resend") == RESEND_KEY
    assert progress_of(db, user.id)["resend"] == "completed"


def test_resend_domains_follow_has_more(client, user, httpserver, db):
    fake = FakeResend(httpserver, keys=(RESEND_KEY,),
                      domains=tuple((f"d{n}.test", "pending") for n in range(150)) + (("last.test", "verified"),))
    response = client.post("/api/integrations/resend/connect", json={"api_key": RESEND_KEY}, headers=user.headers)
    assert response.json["metadata"]["domain_verified"] is True
    assert [r.args.get("after") is not None for r in fake.seen] == [False, True]
    assert response.json["metadata"]["from_email"] is None


def test_resend_no_verified_domain(client, user, httpserver):
    FakeResend(httpserver, keys=(RESEND_KEY,), domains=(("a.test", "pending"),))
    response = client.post("/api/integrations/resend/connect", json={"api_key": RESEND_KEY}, headers=user.headers)
    assert response.status_code == 200 and response.json["metadata"]["domain_verified"] is False


def test_resend_sending_only_key_connects_with_unknown_domain_status(client, user, resend, db):
    response = client.post("/api/integrations/resend/connect", json={"api_key": "re_sending_only_key_0002"},
                           headers=user.headers)
    assert response.status_code == 200
    assert response.json["metadata"]["domain_verified"] is None
    assert response.json["metadata"]["key_access"] == "sending_only"


def test_resend_invalid_key_is_400(client, user, resend, db):
    response = client.post("/api/integrations/resend/connect", json={"api_key": "re_not_a_real_key"},
                           headers=user.headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_api_key"
    assert "invalid_api_key" in response.json["message"]
    assert row(db, user.id, "resend")["status"] == "error" and stored(db, user.id, "resend") is None


def test_fake_resend_refuses_a_request_without_user_agent(resend):
    # http.client sends no User-Agent unless told to (requests and urllib3 always add one).
    host, port = resend.server.host, resend.server.port
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/domains", headers={"Authorization": f"Bearer {RESEND_KEY}"})
    answer = connection.getresponse()
    assert answer.status == 403 and b"1010" in answer.read()
    connection.close()


@pytest.mark.parametrize("mode", ["down", "rate_limited", "malformed"])
def test_resend_unavailable_is_502(client, user, resend, db, mode):
    resend.mode = mode
    response = client.post("/api/integrations/resend/connect", json={"api_key": RESEND_KEY}, headers=user.headers)
    assert response.status_code == 502 and row(db, user.id, "resend") is None


def test_from_email_is_validated_and_only_for_resend(client, user, resend, klaviyo):
    bad = client.post("/api/integrations/resend/connect", json={"api_key": RESEND_KEY, "from_email": "nope"},
                      headers=user.headers)
    assert bad.status_code == 400 and bad.json["details"][0]["field"] == "from_email"
    other = client.post("/api/integrations/klaviyo/connect",
                        json={"api_key": KLAVIYO_KEY, "from_email": "a@b.test"}, headers=user.headers)
    assert other.status_code == 400 and "Resend" in other.json["message"]
    assert resend.seen == [] and klaviyo.seen == []


def test_a_nul_in_from_email_is_400_naming_it_and_changes_nothing(client, user, resend, db, database_url):
    # The address passes the pattern (NUL is not whitespace) but Postgres cannot store it.
    response = client.post("/api/integrations/resend/connect",
                           json={"api_key": RESEND_KEY, "from_email": "hello\u0000@haven.test"}, headers=user.headers)
    assert response.status_code == 400 and response.is_json, response.data
    assert [d["field"] for d in response.json["details"]] == ["from_email"]
    assert "NUL" in response.json["details"][0]["problem"]
    assert resend.seen == [] and row(db, user.id, "resend") is None and secret_count(database_url, user.id) == 0


# --- Dynamic Mockups and Sky Pilot ------------------------------------------------------------

def test_dynamic_mockups_connect(client, user, mockups, db):
    response = client.post("/api/integrations/dynamic_mockups/connect", json={"api_key": MOCKUPS_KEY},
                           headers=user.headers)
    assert response.status_code == 200
    assert response.json["metadata"] == {"catalog_count": 3}
    assert "credits_remaining" not in response.json["metadata"]
    assert mockups.seen[0].headers["x-api-key"] == MOCKUPS_KEY
    assert mockups.seen[0].headers["Accept"] == "application/json"
    assert stored(db, user.id, "dynamic_mockups") == MOCKUPS_KEY
    assert progress_of(db, user.id)["dynamic_mockups"] == "completed"


def test_dynamic_mockups_invalid_key_and_outage(client, user, mockups, db):
    bad = client.post("/api/integrations/dynamic_mockups/connect", json={"api_key": "dm_bad"}, headers=user.headers)
    assert bad.status_code == 400 and bad.json["error"] == "invalid_api_key"
    mockups.mode = "down"
    down = client.post("/api/integrations/dynamic_mockups/connect", json={"api_key": MOCKUPS_KEY},
                       headers=user.headers)
    assert down.status_code == 502
    assert row(db, user.id, "dynamic_mockups")["status"] == "error"
    assert stored(db, user.id, "dynamic_mockups") is None


def test_sky_pilot_checks_the_format_only(client, user, db, httpserver):
    response = client.post("/api/integrations/sky_pilot/connect", json={"api_key": SKY_PILOT_KEY},
                           headers=user.headers)
    assert response.status_code == 200
    assert response.json["metadata"] == {"connected": True, "validated": "format_only"}
    assert httpserver.log == []
    # Sky Pilot has no wizard step: connecting it changes no progress.
    assert set(progress_of(db, user.id).values()) == {"pending"}
    bad = client.post("/api/integrations/sky_pilot/connect", json={"api_key": "short"}, headers=user.headers)
    assert bad.status_code == 400 and bad.json["error"] == "invalid_api_key"


# --- refusals before any call ---------------------------------------------------------------

@pytest.mark.parametrize("provider, code", [("shopify", "oauth_provider"), ("pinterest", "oauth_provider"),
                                            ("tiktok", "unknown_provider")])
def test_oauth_and_unknown_providers_are_400(client, user, db, provider, code):
    response = client.post(f"/api/integrations/{provider}/connect", json={"api_key": "whatever-key-123"},
                           headers=user.headers)
    assert response.status_code == 400 and response.json["error"] == code
    with db.as_service() as conn:
        assert conn.execute("select count(*) as n from public.integrations").fetchone()["n"] == 0


@pytest.mark.parametrize("payload", [{}, {"api_key": ""}, {"api_key": "   "}, {"api_key": 42},
                                     {"api_key": "k" * 20, "extra": 1}, {"api_key": "x" * 2001}])
def test_bad_bodies_are_400_and_never_call_the_provider(client, user, klaviyo, payload):
    response = client.post("/api/integrations/klaviyo/connect", json=payload, headers=user.headers)
    assert response.status_code == 400
    assert klaviyo.seen == []
    if isinstance(payload.get("api_key"), str) and payload["api_key"].strip():
        assert payload["api_key"] not in response.get_data(as_text=True)


@pytest.mark.parametrize("provider", ["klaviyo", "resend", "dynamic_mockups"])
@pytest.mark.parametrize("key", ["pk_\u20ac_euro_sign_key_01", "pk_line\r\nX-Injected: 1", "pk_tab\tinside_key"])
def test_a_key_with_characters_no_key_has_is_400_naming_the_field(client, user, klaviyo, resend, mockups, provider,
                                                                  key):
    # Outside Latin-1 the HTTP client could not even send it (a 500 before); control characters
    # would break the header. Refused before any call, naming the field and not the key.
    response = client.post(f"/api/integrations/{provider}/connect", json={"api_key": key}, headers=user.headers)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == "invalid_request" and body["details"][0]["field"] == "api_key"
    assert "visible ASCII" in body["details"][0]["problem"] and key not in response.get_data(as_text=True)
    assert klaviyo.seen == [] and resend.seen == [] and mockups.seen == []


def test_a_key_with_spaces_around_it_is_400_not_trimmed(client, user, klaviyo):
    # Taken as sent, as its schema says: a pasted newline is named, not silently removed.
    response = client.post("/api/integrations/klaviyo/connect", json={"api_key": f"  {KLAVIYO_KEY}\n"},
                           headers=user.headers)
    assert response.status_code == 400 and response.json["details"][0]["field"] == "api_key"
    assert klaviyo.seen == []


def test_connect_requires_a_token(client, klaviyo):
    assert client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY}).status_code == 401
    assert klaviyo.seen == []


# --- disconnect -----------------------------------------------------------------------------

def test_disconnect_deletes_credentials_and_logs(app, client, user, klaviyo, db, database_url):
    cleanups = []

    def clean_up(conn, user_id, integration) -> bool:  # type: ignore[no-untyped-def]
        cleanups.append(("klaviyo", integration["status"]))
        return False  # the disconnect deletes the credentials

    services = app.extensions["haven"]
    services.providers = Catalog(replace(p, on_disconnect=clean_up) if p.name == "klaviyo" else p
                                 for p in services.providers)
    client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY}, headers=user.headers)
    response = client.delete("/api/integrations/klaviyo", headers=user.headers)
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "disconnected" and body["disconnected_at"] and body["metadata"] == {}
    assert cleanups == [("klaviyo", "connected")]
    assert stored(db, user.id, "klaviyo") is None
    assert secret_count(database_url, user.id) == 0
    with db.as_service() as conn:
        actions = [r["action_type"] for r in conn.execute(
            "select action_type from public.activity_log where user_id = %s order by created_at, id",
            [user.id]).fetchall()]
    assert "integration_disconnected" in actions
    again = client.delete("/api/integrations/klaviyo", headers=user.headers)
    assert again.status_code == 404 and again.json["error"] == "not_connected"


def test_disconnect_refusals(client, make_user, klaviyo, db):
    alice, bob = make_user(), make_user()
    client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY}, headers=alice.headers)
    assert client.delete("/api/integrations/tiktok", headers=alice.headers).status_code == 400
    assert client.delete("/api/integrations/resend", headers=alice.headers).status_code == 404
    assert client.delete("/api/integrations/klaviyo").status_code == 401
    # Bob's request acts on Bob's (absent) integration, never on Alice's.
    assert client.delete("/api/integrations/klaviyo", headers=bob.headers).status_code == 404
    assert row(db, alice.id, "klaviyo")["status"] == "connected"
    assert stored(db, alice.id, "klaviyo") == KLAVIYO_KEY


def test_an_errored_integration_can_be_disconnected(client, user, klaviyo, db):
    client.post("/api/integrations/klaviyo/connect", json={"api_key": "pk_rejected_key_000"}, headers=user.headers)
    response = client.delete("/api/integrations/klaviyo", headers=user.headers)
    assert response.status_code == 200 and response.json["last_error"] is None


# --- no key anywhere ------------------------------------------------------------------------

def test_keys_never_reach_logs_responses_activity_or_rows(client, user, klaviyo, resend, db, caplog,
                                                           database_url):
    bad_key = "pk_rejected_secret_value_9"
    caplog.set_level(logging.DEBUG)
    texts = []
    for provider, key in (("klaviyo", bad_key), ("klaviyo", KLAVIYO_KEY), ("resend", RESEND_KEY)):
        texts.append(client.post(f"/api/integrations/{provider}/connect", json={"api_key": key},
                                 headers=user.headers).get_data(as_text=True))
    klaviyo.mode = "down"
    texts.append(client.post("/api/integrations/klaviyo/connect", json={"api_key": KLAVIYO_KEY},
                             headers=user.headers).get_data(as_text=True))
    texts.append(client.get("/api/integrations", headers=user.headers).get_data(as_text=True))
    texts.append(client.delete("/api/integrations/klaviyo", headers=user.headers).get_data(as_text=True))
    texts.append(client.get("/api/openapi.json").get_data(as_text=True))
    assert len(caplog.records) > 0
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)
    with psycopg.connect(database_url) as conn:
        texts.extend(str(r) for r in conn.execute("select * from public.activity_log").fetchall())
        texts.extend(str(r) for r in conn.execute("select * from public.integrations").fetchall())
        texts.extend(str(r) for r in conn.execute("select name, description, secret from vault.secrets").fetchall())
    for key in (bad_key, KLAVIYO_KEY, RESEND_KEY):
        assert not [text for text in texts if key in text], key
    # ...and yet the key that connected is stored and reads back.
    assert stored(db, user.id, "resend") == RESEND_KEY
