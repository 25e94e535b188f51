"""The generic token refresh (periodic `tokens.refresh` job and on-demand `access_token()`),
exercised with Pinterest's continuous refresh tokens against the fake: a refresh rotates the
refresh token and the old one dies, so it must be stored at once and never spent twice."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from service import providers
from service.integrations import tokens
from service.providers.pinterest.oauth import refresher as pinterest_refresher

from .support.flow import registry_for, run_queued, worker_context
from .support.pinterest import pinterest_world
from .support.queue import wait_for_a_lock_waiter

DEADLINE_SECONDS = 10


@pytest.fixture
def world(settings, db):  # type: ignore[no-untyped-def]
    with pinterest_world(settings, db) as connected_world:
        yield connected_world


def expire_within(database_url: str, user_id: str, interval: str) -> None:
    """Moves the access token's expiry (the test's superuser connection, as an operator would)."""
    with psycopg.connect(database_url) as conn:
        conn.execute("update public.integrations set token_expires_at = now() + %s::interval"
                     " where user_id = %s and provider = 'pinterest'", [interval, user_id])


def refresh_now(world) -> None:  # type: ignore[no-untyped-def]
    tokens.refresh_due_tokens(worker_context(world.settings, world.db))


def test_the_periodic_job_and_the_pinterest_refresher_are_registered(world, settings):
    registry = registry_for(world.settings)
    job = registry.periodic_jobs["tokens.refresh"]
    assert job.run is tokens.refresh_due_tokens and job.every_seconds == world.settings.token_refresh_every_seconds
    pinterest = [r for r in providers.catalog().refreshers(world.settings) if r.provider == "pinterest"]
    assert len(pinterest) == 1 and pinterest[0].window == timedelta(days=5)
    assert pinterest_refresher(settings) is None  # not configured: nothing to refresh with


def test_a_due_token_is_refreshed_and_the_rotated_refresh_token_replaces_the_old(world, user, database_url):
    fake = world.fake
    world.connect(user.headers)
    old_access, old_refresh = world.credential(user.id, "access_token"), world.credential(user.id, "refresh_token")
    expire_within(database_url, user.id, "4 days")  # inside the 5-day window
    now = datetime.now(timezone.utc)

    refresh_now(world)

    assert fake.token_requests("refresh_token") == 1
    new_access, new_refresh = world.credential(user.id, "access_token"), world.credential(user.id, "refresh_token")
    assert new_access != old_access and new_access in fake.access_tokens
    assert new_refresh != old_refresh and fake.refresh_tokens == {new_refresh}  # the old one is dead on Pinterest
    row = world.integration(user.id)
    assert row["status"] == "connected" and row["last_error"] is None
    assert abs(row["token_expires_at"] - (now + timedelta(days=30))) < timedelta(minutes=2)
    assert abs(row["last_refreshed_at"] - now) < timedelta(minutes=2)
    assert abs(datetime.fromisoformat(row["metadata"]["refresh_token_expires_at"]) - (now + timedelta(days=60))
               ) < timedelta(minutes=2)
    assert row["metadata"]["account_name"] == "Haven Prints"  # the rest of the metadata is kept
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.integration_credentials where user_id = %s",
                            [user.id]).fetchone()[0] == 2  # replaced in place

    refresh_now(world)  # fresh now: nothing to do
    assert fake.token_requests("refresh_token") == 1
    # And the rotated token works for the next refresh, as Pinterest requires.
    expire_within(database_url, user.id, "1 hour")
    refresh_now(world)
    assert fake.token_requests("refresh_token") == 2
    assert fake.refresh_tokens == {world.credential(user.id, "refresh_token")}


def test_only_connected_integrations_inside_the_window_are_refreshed(world, make_user, database_url):
    due, fresh, gone = make_user(), make_user(), make_user()
    for who in (due, fresh, gone):
        world.connect(who.headers)
    expire_within(database_url, due.id, "5 days - 1 minute")
    expire_within(database_url, fresh.id, "5 days + 1 hour")
    world.client.delete("/api/integrations/pinterest", headers=gone.headers)
    with psycopg.connect(database_url) as conn:
        conn.execute("update public.integrations set token_expires_at = now() - interval '1 day'"
                     " where user_id = %s", [gone.id])
    fresh_tokens = world.credential(fresh.id, "access_token"), world.credential(fresh.id, "refresh_token")

    refresh_now(world)

    assert world.fake.token_requests("refresh_token") == 1
    assert world.integration(due.id)["last_refreshed_at"] is not None
    assert world.integration(fresh.id)["last_refreshed_at"] is None
    assert (world.credential(fresh.id, "access_token"), world.credential(fresh.id, "refresh_token")) == fresh_tokens
    assert world.integration(gone.id)["status"] == "disconnected"
    assert tokens.refresh_if_due(world.db, pinterest_refresher(world.settings), gone.id) == "not due"


@pytest.mark.parametrize("refusal", ["revoked", "wrong_client_secret"])
def test_a_refused_refresh_marks_the_integration_expired(world, user, database_url, refusal):
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    if refusal == "revoked":
        world.fake.revoke()
    else:
        world.fake.client_secret = "rotated-on-pinterest"

    refresh_now(world)

    row = world.integration(user.id)
    assert row["status"] == "expired"
    assert row["last_error"] == "Pinterest refused to refresh the access token; reconnect Pinterest"
    assert row["last_error_at"] is not None
    with world.db.as_service() as conn:
        logged = conn.execute("select details from public.activity_log where user_id = %s"
                              " and action_type = 'integration_error'", [user.id]).fetchall()
    assert [d["details"]["provider"] for d in logged] == ["pinterest"]
    # Expired stays expired: no retry against a dead grant, no token handed out.
    refresh_now(world)
    assert world.fake.token_requests("refresh_token") == 1
    with pytest.raises(tokens.NotConnected):
        tokens.access_token(world.db, pinterest_refresher(world.settings), user.id, reader="tests")
    listed = world.client.get("/api/integrations", headers=user.headers).json
    assert next(i for i in listed if i["provider"] == "pinterest")["status"] == "expired"
    # Reconnecting brings it back.
    world.fake.client_secret = world.settings.pinterest_client_secret
    world.connect(user.headers)
    row = world.integration(user.id)
    assert row["status"] == "connected" and row["last_error"] is None


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_refresh_pinterest_cannot_answer_now_is_tried_again_on_the_next_run(world, user, database_url, status):
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    before = world.credential(user.id, "refresh_token")
    world.fake.fail_next("token", status)

    refresh_now(world)

    row = world.integration(user.id)
    assert row["status"] == "connected" and row["last_refreshed_at"] is None
    assert world.credential(user.id, "refresh_token") == before  # still the one Pinterest honours
    refresh_now(world)
    assert world.integration(user.id)["last_refreshed_at"] is not None
    assert world.fake.refresh_tokens == {world.credential(user.id, "refresh_token")}


def test_two_concurrent_refreshers_call_pinterest_once(world, user, database_url):
    fake = world.fake
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    fake.hold_token = True
    first = threading.Thread(target=refresh_now, args=(world,), name="refresher-1")
    first.start()
    try:
        assert fake.token_entered.wait(DEADLINE_SECONDS), "the first refresher never reached Pinterest"
        # The first holds the row (and Pinterest's answer); the second skips it instead of waiting.
        second = threading.Thread(target=refresh_now, args=(world,), name="refresher-2")
        second.start()
        second.join(DEADLINE_SECONDS)
        assert not second.is_alive(), "the second refresher waited for the first instead of skipping"
        assert fake.token_requests("refresh_token") == 1
    finally:
        fake.release_token.set()
        first.join(DEADLINE_SECONDS)
    assert not first.is_alive()
    assert fake.token_requests("refresh_token") == 1
    assert fake.refresh_tokens == {world.credential(user.id, "refresh_token")}
    assert world.credential(user.id, "access_token") in fake.access_tokens


def test_a_caller_needing_the_token_waits_for_a_refresh_under_way_and_gets_the_new_token(
        world, user, database_url):
    fake = world.fake
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    old_access = world.credential(user.id, "access_token")
    fake.hold_token = True
    periodic = threading.Thread(target=refresh_now, args=(world,), name="refresher")
    got: list[str] = []
    on_demand = threading.Thread(
        target=lambda: got.append(tokens.access_token(world.db, pinterest_refresher(world.settings), user.id, reader="tests")),
        name="on-demand")
    periodic.start()
    try:
        assert fake.token_entered.wait(DEADLINE_SECONDS)
        on_demand.start()

        wait_for_a_lock_waiter(database_url, timeout=DEADLINE_SECONDS,
                               what="the on-demand caller to wait for the refresher's lock")
    finally:
        fake.release_token.set()
        periodic.join(DEADLINE_SECONDS)
        if on_demand.ident is not None:
            on_demand.join(DEADLINE_SECONDS)
    assert fake.token_requests("refresh_token") == 1
    assert got == [world.credential(user.id, "access_token")] and got[0] != old_access


def test_access_token_on_demand_refreshes_first_only_inside_the_window(world, user, database_url):
    fake = world.fake
    world.connect(user.headers)
    refresher = pinterest_refresher(world.settings)
    stored = world.credential(user.id, "access_token")
    assert tokens.access_token(world.db, refresher, user.id, reader="tests") == stored
    assert fake.token_requests("refresh_token") == 0

    expire_within(database_url, user.id, "2 days")
    fresh = tokens.access_token(world.db, refresher, user.id, reader="tests")

    assert fresh != stored and fresh == world.credential(user.id, "access_token") and fresh in fake.access_tokens
    assert fake.token_requests("refresh_token") == 1
    assert fake.refresh_tokens == {world.credential(user.id, "refresh_token")}
    assert tokens.access_token(world.db, refresher, user.id, reader="tests") == fresh
    assert fake.token_requests("refresh_token") == 1


def test_access_token_on_demand_with_a_refused_refresh_raises_and_marks_expired(world, user, database_url):
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    world.fake.revoke()
    with pytest.raises(tokens.ReconnectRequired):
        tokens.access_token(world.db, pinterest_refresher(world.settings), user.id, reader="tests")
    assert world.integration(user.id)["status"] == "expired"


def test_a_board_sync_due_for_refresh_refreshes_first(world, user, database_url):
    world.fake.add_boards(4)
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    world.fake.access_tokens.clear()  # the old access token no longer works; a refresh mints a new one
    ran = run_queued(world.settings, world.db)
    assert [r.error for r in ran] == [None]
    assert world.fake.token_requests("refresh_token") == 1
    assert len(world.board_ids(user.id)) == 4


def test_a_sync_after_a_refused_refresh_fails_for_good(world, user, database_url):
    world.connect(user.headers)
    expire_within(database_url, user.id, "1 day")
    world.fake.revoke()
    ran = run_queued(world.settings, world.db)
    assert [type(r.error).__name__ for r in ran] == ["ReconnectRequired"]
    assert world.queue_items(user.id)[0]["status"] == "failed"
    assert world.integration(user.id)["status"] == "expired"


def test_the_window_is_a_setting(world, user, database_url):
    world.connect(user.headers)
    expire_within(database_url, user.id, "4 days")
    narrow = replace(world.settings, pinterest_refresh_window_seconds=3 * 24 * 3600)
    tokens.refresh_due_tokens(worker_context(narrow, world.db))
    assert world.fake.token_requests("refresh_token") == 0
    refresh_now(world)
    assert world.fake.token_requests("refresh_token") == 1


def test_a_database_error_for_one_user_does_not_cost_the_others_their_refresh(world, make_user, database_url,
                                                                             monkeypatch):
    first, second = make_user(), make_user()
    for someone in (first, second):
        world.connect(someone.headers)
        expire_within(database_url, someone.id, "1 day")
    real = tokens.refresh_if_due
    failed: list[str] = []

    def flaky(db, refresher, user_id):  # type: ignore[no-untyped-def]
        if not failed:
            failed.append(user_id)
            raise psycopg.errors.SerializationFailure("could not serialize access")
        return real(db, refresher, user_id)

    monkeypatch.setattr(tokens, "refresh_if_due", flaky)
    refresh_now(world)
    survivor = second.id if failed[0] == first.id else first.id
    assert world.integration(survivor)["last_refreshed_at"] is not None
    assert world.integration(failed[0])["last_refreshed_at"] is None
