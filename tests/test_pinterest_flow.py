"""Connecting Pinterest end to end against a fake Pinterest on loopback: install, consent,
callback, the queued board sync (every page, all or nothing), the error redirects, disconnect,
and that no token ever leaves Vault."""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from service.integrations.tokens import refresh_due_tokens
from service.errors import ProviderUnavailable

from .support.flow import run_queued, worker_context
from .support.pinterest import CALLBACK, FRONT_END, pinterest_world, query
from .support.db import sql as sql_query
from .support.queue import wait_for_a_lock_waiter


@pytest.fixture
def world(settings, db):  # type: ignore[no-untyped-def]
    with pinterest_world(settings, db) as connected_world:
        yield connected_world


def setup_step(db, user_id: str) -> str:  # type: ignore[no-untyped-def]
    with db.as_service() as conn:
        return conn.execute("select setup_progress ->> 'pinterest' as s from public.user_settings where user_id = %s",
                            [user_id]).fetchone()["s"]


def activity(db, user_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with db.as_service() as conn:
        return conn.execute("select action_type, details from public.activity_log where user_id = %s"
                            " order by created_at, id", [user_id]).fetchall()


def credential_rows(database_url: str, user_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "select (select count(*) from public.integration_credentials where user_id = %s and provider = 'pinterest')"
            " + (select count(*) from vault.secrets where name like %s)",
            [user_id, f"haven/integrations/{user_id}/pinterest/%"]).fetchone()[0]


def near(moment: datetime, expected: datetime, slack: timedelta = timedelta(minutes=2)) -> bool:
    return abs(moment - expected) < slack


# --- install ------------------------------------------------------------------------------------

def test_install_redirects_to_pinterests_authorize_url_with_a_single_use_state(world, user, database_url):
    response = world.client.get("/api/integrations/pinterest/install", headers=user.headers)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(world.base + "/oauth/?")
    params = query(location)
    assert set(params) == {"client_id", "redirect_uri", "response_type", "scope", "state"}
    assert params["client_id"] == world.fake.client_id
    assert params["redirect_uri"] == CALLBACK
    assert params["response_type"] == "code"
    assert params["scope"] == world.settings.pinterest_scopes
    assert "boards:read" in params["scope"].split(",") and " " not in params["scope"]
    assert len(params["state"]) >= 32
    assert world.integration(user.id)["status"] == "connecting"

    as_json = world.client.get("/api/integrations/pinterest/install?format=json", headers=user.headers)
    assert as_json.status_code == 200
    second = query(as_json.json["authorize_url"])
    assert second["state"] != params["state"]  # a fresh state for every attempt
    with psycopg.connect(database_url) as conn:
        states = conn.execute("select state_hash::text, user_id::text, provider from public.oauth_states").fetchall()
    assert [(u, p) for _, u, p in states] == [(user.id, "pinterest")] * 2
    assert not [h for h, _, _ in states if params["state"] in h or second["state"] in h]  # only hashes kept


def test_install_needs_a_signed_in_user(world):
    assert world.client.get("/api/integrations/pinterest/install").status_code == 401
    assert world.client.get("/api/integrations/pinterest/install?format=json").status_code == 401


def test_install_bad_format_is_400(world, user):
    response = world.client.get("/api/integrations/pinterest/install?format=xml", headers=user.headers)
    assert response.status_code == 400
    assert world.integration(user.id) is None


def test_install_is_409_when_pinterest_is_not_configured(client, user, database_url):
    response = client.get("/api/integrations/pinterest/install", headers=user.headers)
    assert response.status_code == 409
    assert response.json["error"] == "provider_not_configured"
    assert "PINTEREST_CLIENT_ID" in response.json["message"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select (select count(*) from public.oauth_states)"
                            " + (select count(*) from public.integrations)").fetchone()[0] == 0
    callback = client.get("/api/integrations/pinterest/callback?code=c&state=s")
    assert callback.status_code == 302 and callback.headers["Location"].endswith("?error=not_configured&provider=pinterest")


# --- the whole flow -----------------------------------------------------------------------------

def test_connect_stores_tokens_records_expiry_completes_the_step_and_syncs_boards(world, user, database_url):
    fake, db = world.fake, world.db
    fake.add_boards(3)
    assert setup_step(db, user.id) == "pending"
    state = query(world.authorize_url(user.headers))["state"]
    now = datetime.now(timezone.utc)

    response = world.confirm(world.callback(fake.approve(state, CALLBACK)), user.headers)

    assert response.status_code == 200 and response.json == {"provider": "pinterest", "connected": True}
    exchange = [r for r in fake.requests if r["op"] == "token"]
    assert exchange == [{"op": "token", "grant_type": "authorization_code", "redirect_uri": CALLBACK}]
    access, refresh = world.credential(user.id, "access_token"), world.credential(user.id, "refresh_token")
    assert access in fake.access_tokens and refresh in fake.refresh_tokens
    row = world.integration(user.id)
    assert row["status"] == "connected" and row["last_error"] is None and row["connected_at"]
    assert near(row["token_expires_at"], now + timedelta(days=30))
    metadata = row["metadata"]
    assert metadata["account_name"] == "Haven Prints"
    assert metadata["account_id"] == "549755885175"
    assert metadata["username"] == "havenprints"
    assert metadata["board_count"] == 3
    assert near(datetime.fromisoformat(metadata["refresh_token_expires_at"]), now + timedelta(days=60))
    assert setup_step(db, user.id) == "completed"
    connected = [a for a in activity(db, user.id) if a["action_type"] == "integration_connected"]
    assert len(connected) == 1 and connected[0]["details"]["provider"] == "pinterest"
    assert connected[0]["details"]["metadata"]["account_name"] == "Haven Prints"
    items = world.queue_items(user.id)
    assert [(i["status"], i["payload"]) for i in items] == [("pending", {})]
    assert world.board_ids(user.id) == []  # the sync is queued, not run inside the browser's request

    ran = run_queued(world.settings, db)

    assert [(r.operation_type, r.error) for r in ran] == [("pinterest.sync_boards", None)]
    assert world.board_ids(user.id) == sorted(b["id"] for b in fake.boards)
    boards = world.boards(user.id)
    first = boards[fake.boards[1]["id"]]
    assert (first["name"], first["privacy"], first["pin_count"], first["follower_count"]) == ("Board 1", "PUBLIC", 1, 1)
    assert first["synced_at"] is not None
    assert world.queue_items(user.id)[0]["status"] == "resolved"
    assert world.integration(user.id)["metadata"]["board_count"] == 3
    # The sync's read of the token is in the user's audit: who read it and why, never the value.
    reads = world.client.get("/api/integrations/credential-reads", headers=user.headers).json["reads"]
    sync_reads = [(r["provider"], r["credential_type"], r["reader"], r["purpose"], r["found"]) for r in reads
                  if r["reader"] == "pinterest.sync_boards"]
    assert sync_reads == [("pinterest", "access_token", "pinterest.sync_boards", "call Pinterest", True)]
    assert access not in str(reads) and refresh not in str(reads)
    # The integrations list shows the connection (and no token).
    listed = world.client.get("/api/integrations", headers=user.headers).json
    mine = next(i for i in listed if i["provider"] == "pinterest")
    assert mine["connected"] and mine["metadata"]["board_count"] == 3
    assert credential_rows(database_url, user.id) == 4  # two mappings, two Vault secrets


def test_reconnecting_replaces_the_tokens_in_place(world, user, database_url):
    world.connect(user.headers)
    first_access = world.credential(user.id, "access_token")
    world.connect(user.headers)
    assert world.credential(user.id, "access_token") != first_access
    assert world.credential(user.id, "refresh_token") in world.fake.refresh_tokens
    assert credential_rows(database_url, user.id) == 4
    assert world.integration(user.id)["status"] == "connected"


# --- board sync ---------------------------------------------------------------------------------

def test_sync_reads_every_page_and_a_later_sync_gives_exactly_the_new_set(world, user):
    fake = world.fake
    fake.add_boards(613)
    world.connect(user.headers)
    run_queued(world.settings, world.db)

    pages = [r for r in fake.requests if r["op"] == "boards"]
    assert [r["page_size"] for r in pages] == ["250"] * 3
    assert pages[0]["bookmark"] is None and all(r["bookmark"] for r in pages[1:])
    assert world.board_ids(user.id) == sorted(b["id"] for b in fake.boards)
    assert len(world.board_ids(user.id)) == 613
    assert world.integration(user.id)["metadata"]["board_count"] == 613
    kept_id = fake.boards[300]["id"]
    kept_row_id = world.boards(user.id)[kept_id]["id"]

    fake.boards[0]["name"] = "Quotes for the hallway"
    fake.boards[0]["pin_count"] = 41
    removed = [b["id"] for b in fake.boards[100:150]]
    del fake.boards[100:150]
    fake.add_boards(40, prefix="New")
    response = world.client.post("/api/integrations/pinterest/sync", headers=user.headers)
    assert response.status_code == 202
    ran = run_queued(world.settings, world.db)

    assert [r.error for r in ran] == [None]
    boards = world.boards(user.id)
    assert sorted(boards) == sorted(b["id"] for b in fake.boards) and len(boards) == 603
    assert not set(removed) & set(boards)
    assert (boards[fake.boards[0]["id"]]["name"], boards[fake.boards[0]["id"]]["pin_count"]) == (
        "Quotes for the hallway", 41)
    assert boards[kept_id]["id"] == kept_row_id  # updated in place: pins keep pointing at it
    assert world.integration(user.id)["metadata"]["board_count"] == 603


def test_a_sync_of_no_boards_empties_the_set(world, user):
    world.fake.add_boards(5)
    world.connect(user.headers)
    run_queued(world.settings, world.db)
    world.fake.boards.clear()
    world.client.post("/api/integrations/pinterest/sync", headers=user.headers)
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    assert world.board_ids(user.id) == []
    assert world.integration(user.id)["metadata"]["board_count"] == 0


@pytest.mark.parametrize("status", [429, 500, 503])
def test_an_interrupted_sync_keeps_the_previous_complete_set_and_is_retried(world, user, status):
    fake = world.fake
    fake.add_boards(613)
    world.connect(user.headers)
    run_queued(world.settings, world.db)
    previous = world.boards(user.id)
    del fake.boards[0:10]
    fake.boards[0]["name"] = "Renamed on the first page"
    fake.add_boards(300, prefix="Later")
    fake.fail_next("boards", status, after=1)  # the second page fails
    item_id = world.client.post("/api/integrations/pinterest/sync", headers=user.headers).json["retry_item_id"]
    before = datetime.now(timezone.utc)

    ran = run_queued(world.settings, world.db, rounds=1)

    assert len(ran) == 1 and ran[0].error is not None
    assert [r["bookmark"] is None for r in fake.requests if r["op"] == "boards"][-2:] == [True, False]
    assert world.boards(user.id) == previous  # neither the first page's changes nor any deletion
    assert world.integration(user.id)["metadata"]["board_count"] == 613
    item = next(i for i in world.queue_items(user.id) if str(i["id"]) == item_id)
    assert item["status"] == "pending" and item["attempts"] == 1
    assert item["next_retry_at"] >= before - timedelta(seconds=1)
    assert str(status) in item["last_error"]

    ran = run_queued(world.settings, world.db)

    assert [r.error for r in ran] == [None]
    assert world.board_ids(user.id) == sorted(b["id"] for b in fake.boards)
    assert world.boards(user.id)[fake.boards[0]["id"]]["name"] == "Renamed on the first page"
    assert world.integration(user.id)["metadata"]["board_count"] == 903
    item = next(i for i in world.queue_items(user.id) if str(i["id"]) == item_id)
    assert item["status"] == "resolved" and item["attempts"] == 2


def test_a_sync_whose_bookmarks_do_not_progress_ends_retryable_and_keeps_the_previous_set(world, user):
    fake = world.fake
    fake.add_boards(613)
    world.connect(user.headers)
    run_queued(world.settings, world.db)
    previous = world.boards(user.id)
    fake.bookmark_fault = "repeat"  # page two hands back its own bookmark
    item_id = world.client.post("/api/integrations/pinterest/sync", headers=user.headers).json["retry_item_id"]
    requests_before = len(fake.requests)

    ran = run_queued(world.settings, world.db, rounds=1)

    assert len(ran) == 1 and isinstance(ran[0].error, ProviderUnavailable)
    assert [r["op"] for r in fake.requests[requests_before:]] == ["boards", "boards"]  # not the fake's 50
    assert world.boards(user.id) == previous
    item = next(i for i in world.queue_items(user.id) if str(i["id"]) == item_id)
    assert item["status"] == "pending" and item["attempts"] == 1
    assert "does not progress" in item["last_error"]
    assert world.credential(user.id, "access_token") not in item["last_error"]

    fake.bookmark_fault = None
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    item = next(i for i in world.queue_items(user.id) if str(i["id"]) == item_id)
    assert item["status"] == "resolved" and item["attempts"] == 2
    assert world.board_ids(user.id) == sorted(b["id"] for b in fake.boards)


def test_sync_with_an_access_token_pinterest_refuses_marks_the_integration_expired(world, user):
    world.fake.add_boards(3)
    world.connect(user.headers)
    world.fake.access_tokens.clear()  # revoked on Pinterest's side; the refresh token is still there
    ran = run_queued(world.settings, world.db)
    assert len(ran) == 1 and ran[0].error is not None
    item = world.queue_items(user.id)[0]
    assert item["status"] == "failed"  # retrying with a refused token cannot help
    row = world.integration(user.id)
    assert row["status"] == "expired" and "reconnect" in row["last_error"]
    assert world.board_ids(user.id) == []


def test_sync_endpoint_queues_when_connected_and_is_409_otherwise(world, make_user):
    alice, bob = make_user(), make_user()
    assert world.client.post("/api/integrations/pinterest/sync").status_code == 401
    refused = world.client.post("/api/integrations/pinterest/sync", headers=alice.headers)
    assert refused.status_code == 409 and refused.json["error"] == "not_connected"
    world.client.get("/api/integrations/pinterest/install", headers=alice.headers)
    assert world.client.post("/api/integrations/pinterest/sync", headers=alice.headers).status_code == 409
    assert world.queue_items(alice.id) == []

    world.connect(alice.headers)  # which queues the first sync
    response = world.client.post("/api/integrations/pinterest/sync", headers=alice.headers)
    assert response.status_code == 202
    body = response.json
    assert body["queued"] is True and body["already_queued"] is True  # the connect's sync is still pending
    items = world.queue_items(alice.id)
    assert [str(i["id"]) for i in items] == [body["retry_item_id"]]
    assert all(i["payload"] == {} for i in items)  # nothing secret in a payload
    # Bob is not connected, whatever Alice is.
    assert world.client.post("/api/integrations/pinterest/sync", headers=bob.headers).status_code == 409
    assert world.queue_items(bob.id) == []


def test_at_most_one_sync_is_pending_per_user(world, make_user):
    alice = make_user()
    world.connect(alice.headers)
    run_queued(world.settings, world.db)  # the connect's sync ran
    answers = [world.client.post("/api/integrations/pinterest/sync", headers=alice.headers) for _ in range(30)]
    assert {a.status_code for a in answers} == {202}
    assert [a.json["already_queued"] for a in answers] == [False] + [True] * 29
    assert {a.json["retry_item_id"] for a in answers} == {answers[0].json["retry_item_id"]}
    pending = [i for i in world.queue_items(alice.id) if i["status"] == "pending"]
    assert [str(i["id"]) for i in pending] == [answers[0].json["retry_item_id"]]
    run_queued(world.settings, world.db)
    again = world.client.post("/api/integrations/pinterest/sync", headers=alice.headers).json
    assert again["already_queued"] is False and again["retry_item_id"] != answers[0].json["retry_item_id"]


def test_a_sync_request_waits_for_one_under_way_and_answers_its_item(world, make_user, database_url):
    alice = make_user()
    world.connect(alice.headers)
    run_queued(world.settings, world.db)
    # Another request has locked the integration and is about to queue its sync.
    other = psycopg.connect(database_url)
    other.execute("set role service_role")
    other.execute("select 1 from public.integrations where user_id = %s and provider = 'pinterest' for update",
                  [alice.id])
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(
        world.client.application.test_client().post("/api/integrations/pinterest/sync", headers=alice.headers)))
    request.start()
    wait_for_a_lock_waiter(database_url, what="the second request to wait for the first")
    queued = other.execute("select public.queue_for_retry(%s, 'pinterest.sync_boards', '{}'::jsonb)::text",
                           [alice.id]).fetchone()[0]
    other.commit()
    other.close()
    request.join(30)
    assert [a.status_code for a in answers] == [202]
    assert answers[0].json["already_queued"] is True and answers[0].json["retry_item_id"] == queued
    assert [str(i["id"]) for i in world.queue_items(alice.id) if i["status"] == "pending"] == [queued]


# --- the callback's refusals --------------------------------------------------------------------

def test_denied_consent_redirects_cleanly_and_records_the_error(world, user, database_url):
    state = world.state(user.headers)
    response = world.callback(world.fake.deny(state, CALLBACK))
    assert response.status_code == 302
    assert response.headers["Location"] == f"{FRONT_END}?error=access_denied&provider=pinterest"
    row = world.integration(user.id)
    assert row["status"] == "error" and "not granted" in row["last_error"] and row["last_error_at"]
    assert world.fake.requests == []
    assert credential_rows(database_url, user.id) == 0
    assert setup_step(world.db, user.id) == "pending"
    assert world.queue_items(user.id) == []
    assert [a["action_type"] for a in activity(world.db, user.id)] == ["integration_error"]
    # The state was spent on the refusal.
    again = world.callback(world.fake.approve(state, CALLBACK))
    assert again.headers["Location"] == f"{FRONT_END}?error=invalid_state&provider=pinterest"


def test_denied_consent_leaves_a_working_connection_connected(world, user):
    world.connect(user.headers)
    tokens = world.credential(user.id, "access_token")
    response = world.callback(world.fake.deny(world.state(user.headers), CALLBACK))
    assert response.headers["Location"] == f"{FRONT_END}?error=access_denied&provider=pinterest"
    row = world.integration(user.id)
    assert row["status"] == "connected" and row["last_error"]
    assert world.credential(user.id, "access_token") == tokens


@pytest.mark.parametrize("params", [{}, {"state": "STATE"}, {"code": "abc"}, {"error": "access_denied"},
                                    {"state": "", "code": "abc"}])
def test_missing_parameters_redirect_and_change_nothing(world, user, database_url, params):
    state = world.state(user.headers)
    params = {k: state if v == "STATE" else v for k, v in params.items()}
    response = world.client.get("/api/integrations/pinterest/callback", query_string=params)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{FRONT_END}?error=missing_parameters&provider=pinterest"
    row = world.integration(user.id)
    assert row["status"] == "connecting" and row["last_error"] is None
    assert world.fake.requests == [] and credential_rows(database_url, user.id) == 0
    # The state was not spent: the real answer still connects.
    world.confirm(world.callback(world.fake.approve(state, CALLBACK)), user.headers)
    assert world.integration(user.id)["status"] == "connected"


def test_a_replayed_state_is_refused_and_changes_nothing(world, user):
    state = world.state(user.headers)
    url = world.fake.approve(state, CALLBACK)
    world.confirm(world.callback(url), user.headers)
    stored = world.credential(user.id, "access_token"), world.credential(user.id, "refresh_token")
    row = world.integration(user.id)

    for replay in (url, world.fake.approve(state, CALLBACK)):
        response = world.callback(replay)
        assert response.status_code == 302
        assert response.headers["Location"] == f"{FRONT_END}?error=invalid_state&provider=pinterest"
    assert world.fake.token_requests("authorization_code") == 1
    assert (world.credential(user.id, "access_token"), world.credential(user.id, "refresh_token")) == stored
    assert world.integration(user.id) == row
    assert len(world.queue_items(user.id)) == 1


def test_an_expired_state_is_refused_and_changes_nothing(world, user, database_url):
    state = world.state(user.headers)
    with psycopg.connect(database_url) as conn:
        aged = conn.execute("update public.oauth_states set created_at = now() - interval '11 minutes',"
                            " expires_at = now() - interval '1 minute'").rowcount
    assert aged == 1
    response = world.callback(world.fake.approve(state, CALLBACK))
    assert response.headers["Location"] == f"{FRONT_END}?error=invalid_state&provider=pinterest"
    row = world.integration(user.id)
    assert row["status"] == "connecting" and row["last_error"] is None
    assert world.fake.token_requests("authorization_code") == 0
    assert credential_rows(database_url, user.id) == 0


@pytest.mark.parametrize("state_of", ["unknown", "shopify"])
def test_a_state_not_issued_for_pinterest_is_refused(world, user, state_of):
    world.state(user.headers)
    if state_of == "shopify":
        with world.db.as_service() as conn:
            state = conn.execute("select public.begin_oauth(%s, 'shopify', 'haven.myshopify.com') as s",
                                 [user.id]).fetchone()["s"]
    else:
        state = "x" * 43
    response = world.callback(world.fake.approve(state, CALLBACK))
    assert response.headers["Location"] == f"{FRONT_END}?error=invalid_state&provider=pinterest"
    assert world.fake.requests == []
    assert world.integration(user.id)["status"] == "connecting"


@pytest.mark.parametrize("failure", ["bad_code", "server_error", "wrong_app_secret"])
def test_a_failed_token_exchange_records_the_error_and_stores_nothing(world, user, database_url, failure):
    state = world.state(user.headers)
    url = world.fake.approve(state, CALLBACK)
    if failure == "bad_code":
        url = url.replace("code=", "code=stale")
    elif failure == "server_error":
        world.fake.fail_next("token", 503)
    else:
        world.fake.client_secret = "rotated-on-pinterest"
    response = world.confirm(world.callback(url), user.headers)
    assert response.status_code == 409 and response.json["error"] == "token_exchange_failed"
    row = world.integration(user.id)
    assert row["status"] == "error" and row["last_error"].startswith("Pinterest token exchange failed")
    assert row["token_expires_at"] is None and row["metadata"] == {}
    assert credential_rows(database_url, user.id) == 0
    assert world.queue_items(user.id) == [] and setup_step(world.db, user.id) == "pending"


def test_a_failed_account_read_stores_no_token(world, user, database_url):
    world.fake.fail_next("user_account", 500)
    response = world.confirm(world.callback(world.fake.approve(world.state(user.headers), CALLBACK)), user.headers)
    assert response.status_code == 409 and response.json["error"] == "account_failed"
    row = world.integration(user.id)
    assert row["status"] == "error" and "account" in row["last_error"]
    assert credential_rows(database_url, user.id) == 0
    assert world.queue_items(user.id) == []


# --- disconnect ---------------------------------------------------------------------------------

def test_disconnect_deletes_the_tokens_and_the_synced_boards(world, make_user, database_url):
    alice, bob = make_user(), make_user()
    world.fake.add_boards(7)
    world.connect(alice.headers)
    world.connect(bob.headers)
    run_queued(world.settings, world.db)
    world.client.post("/api/integrations/pinterest/sync", headers=alice.headers)  # still queued at disconnect

    response = world.client.delete("/api/integrations/pinterest", headers=alice.headers)

    assert response.status_code == 200
    assert response.json["status"] == "disconnected" and response.json["metadata"] == {}
    assert world.board_ids(alice.id) == []
    assert credential_rows(database_url, alice.id) == 0
    assert world.credential(alice.id, "access_token") is None
    row = world.integration(alice.id)
    assert row["token_expires_at"] is None and row["disconnected_at"]
    # The sync queued before the disconnect finds nothing to do and gives up for good.
    ran = run_queued(world.settings, world.db)
    assert [type(r.error).__name__ for r in ran] == ["NotConnected"]
    assert world.board_ids(alice.id) == []
    assert world.queue_items(alice.id)[-1]["status"] == "failed"
    # Bob's connection and boards are untouched.
    assert len(world.board_ids(bob.id)) == 7 and credential_rows(database_url, bob.id) == 4
    again = world.client.delete("/api/integrations/pinterest", headers=alice.headers)
    assert again.status_code == 404


# --- no token anywhere --------------------------------------------------------------------------

def test_tokens_never_reach_logs_responses_redirects_activity_or_rows(world, make_user, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    fake, alice, bob = world.fake, make_user(), make_user()
    fake.add_boards(260)
    texts: list[str] = []

    def keep(response):  # type: ignore[no-untyped-def]
        texts.append(response.get_data(as_text=True))
        texts.extend(f"{k}: {v}" for k, v in response.headers.items())
        return response

    codes = []
    for who in (alice, bob):
        url = keep(world.client.get("/api/integrations/pinterest/install?format=json", headers=who.headers)
                   ).json["authorize_url"]
        approved = fake.approve(query(url)["state"], CALLBACK)
        codes.append(query(approved)["code"])
        keep(world.confirm(keep(world.callback(approved)), who.headers))
    keep(world.callback(approved))  # replayed
    denied_state = world.state(alice.headers)
    keep(world.callback(fake.deny(denied_state, CALLBACK)))
    run_queued(world.settings, world.db)
    keep(world.client.post("/api/integrations/pinterest/sync", headers=alice.headers))
    fake.fail_next("boards", 429, after=1)
    run_queued(world.settings, world.db, rounds=1)
    run_queued(world.settings, world.db)
    with psycopg.connect(database_url) as conn:
        conn.execute("update public.integrations set token_expires_at = now() + interval '1 day'")
    fake.fail_next("token", 503)
    refresh_due_tokens(worker_context(world.settings, world.db))  # one fails, one refreshes
    refresh_due_tokens(worker_context(world.settings, world.db))
    fake.revoke()
    with psycopg.connect(database_url) as conn:
        conn.execute("update public.integrations set token_expires_at = now() + interval '1 day'"
                     " where user_id = %s", [bob.id])
    refresh_due_tokens(worker_context(world.settings, world.db))  # refused: Bob's is expired
    keep(world.client.get("/api/integrations", headers=alice.headers))
    keep(world.client.get("/api/integrations", headers=bob.headers))
    keep(world.client.get("/api/errors", headers=alice.headers))
    keep(world.client.delete("/api/integrations/pinterest", headers=alice.headers))

    assert fake.token_requests("refresh_token") >= 2 and len(fake.issued) >= 6
    assert world.integration(bob.id)["status"] == "expired"
    assert len(caplog.records) > 0
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)
    texts.extend(str(record.exc_info) for record in caplog.records if record.exc_info)
    with psycopg.connect(database_url) as conn:
        for table in ("activity_log", "integrations", "retry_queue", "retry_attempts", "pinterest_boards",
                      "oauth_states", "integration_credentials"):
            texts.extend(str(r) for r in conn.execute(f"select * from public.{table}").fetchall())
        texts.extend(str(r) for r in conn.execute("select name, description, secret from vault.secrets").fetchall())
    secrets = [*fake.issued, *codes, fake.client_secret]
    for secret in secrets:
        assert not [text for text in texts if secret in text], secret
    # ...while the states and codes stay out of the logs too.
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    assert denied_state not in log_text


def test_overlapping_board_syncs_leave_exactly_one_complete_set(user, database_url):
    def boards(*ids: str) -> str:
        return json.dumps([{"id": board_id, "name": f"Board {board_id}"} for board_id in ids])

    first = psycopg.connect(database_url)
    first.execute("set role service_role")
    first.execute("select public.replace_pinterest_boards(%s, %s::jsonb)", [user.id, boards("a", "b")])  # open
    outcome: list[BaseException | None] = []

    def second_sync() -> None:
        try:
            with psycopg.connect(database_url) as conn:
                conn.execute("set role service_role")
                conn.execute("select public.replace_pinterest_boards(%s, %s::jsonb)", [user.id, boards("c")])
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            outcome.append(exc)

    second = threading.Thread(target=second_sync)
    second.start()
    wait_for_a_lock_waiter(database_url, what="the second sync to wait for the first")
    first.commit()
    first.close()
    second.join(30)
    assert outcome == [None]
    assert sql_query(database_url, "select pinterest_board_id from public.pinterest_boards where user_id = %s",
                 [user.id]) == [("c",)]
