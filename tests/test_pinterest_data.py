"""Pinterest data and calls (issue 14) end to end against the fake Pinterest on loopback: pins and
their daily metrics synced with paging, the account's figures into daily_metrics, ad accounts into
the metadata; a 429 half-way is retried after the limit's reset and never recorded complete; due
scheduled pins published by the worker (a refused one on the failed list, its pin failed); pins
deleted; boards created; the pins export showing the synced figures."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from service import providers
from service.errors import ProviderUnavailable, retry_delay
from service.providers.pinterest import client as client_module
from service.providers.pinterest.jobs import publish_due_pins, queue_data_syncs
from service.queue.families import build_registry
from service.queue.registry import Job
from service.queue.worker import Outcome, Worker, WorkerOptions, backoff_bounds

from .support.flow import run_queued, worker_context
from .support.pinterest import PinterestWorld, pinterest_world
from .support.queue import wait_until

PAGE = 10  # pins a page in these tests (Pinterest's is up to 250), so a few dozen pins make pages


@pytest.fixture
def world(settings, db, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(client_module, "MAX_PAGE_SIZE", PAGE)
    with pinterest_world(settings, db) as connected_world:
        yield connected_world


def connect(world: PinterestWorld, headers: dict[str, str]) -> None:
    world.connect(headers)
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]  # the board sync


def sync_data(world: PinterestWorld, user: Any, rounds: int = 5) -> list[Any]:
    response = world.client.post("/api/integrations/pinterest/sync?what=data", headers=user.headers)
    assert response.status_code == 202, response.json
    return run_queued(world.settings, world.db, rounds=rounds)


def rows(database_url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(sql, list(params)).fetchall()


def pins(database_url: str, user_id: str) -> dict[str, dict[str, Any]]:
    return {r["pinterest_pin_id"]: r for r in rows(
        database_url, "select p.*, b.pinterest_board_id from public.pins as p left join public.pinterest_boards as b"
        " on b.id = p.board_id where p.user_id = %s and p.pinterest_pin_id is not null", user_id)}


def sync_state(world: PinterestWorld, user_id: str) -> dict[str, Any]:
    return world.integration(user_id)["metadata"]["data_sync"]


def window() -> tuple[date, date]:
    end = datetime.now(timezone.utc).date()
    return end - timedelta(days=89), end


# --- the data sync --------------------------------------------------------------------------------

def test_sync_reads_every_page_of_pins_their_days_the_accounts_days_and_ad_accounts(world, user, database_url):
    fake = world.fake
    fake.add_boards(3)
    connect(world, user.headers)
    fake.add_pins(25)  # three pages
    fake.add_ad_accounts(2)

    ran = sync_data(world, user)

    assert [(r.operation_type, r.error) for r in ran] == [("pinterest.sync_data", None)]
    assert [r["bookmark"] is None for r in fake.ops("pins")] == [True, False, False]
    stored = pins(database_url, user.id)
    assert set(stored) == {p["id"] for p in fake.pins}
    for pin in fake.pins:  # pins made outside Haven are imported, each on its board
        row = stored[pin["id"]]
        assert (row["title"], row["link"], row["pinterest_board_id"], row["status"]) == (
            pin["title"], pin["link"], pin["board_id"], "published")
        assert row["image_url"] == pin["media"]["images"]["1200x"]["url"]

    start, end = window()
    asked = fake.ops("pin_analytics")
    assert len(asked) == 25
    assert {(a["start_date"], a["end_date"]) for a in asked} == {(start.isoformat(), end.isoformat())}
    assert asked[0]["metric_types"] == "IMPRESSION,SAVE,PIN_CLICK,ENGAGEMENT"
    first = fake.pins[0]["id"]
    days = rows(database_url, "select a.* from public.pin_analytics as a join public.pins as p on p.id = a.pin_id"
                              " where p.pinterest_pin_id = %s order by metric_date", first)
    # Every day of the window but today, which Pinterest is still counting.
    assert [d["metric_date"] for d in days] == [start + timedelta(days=n) for n in range(89)]
    figures = fake.pin_day(first, days[3]["metric_date"])
    assert (days[3]["impressions"], days[3]["saves"], days[3]["clicks"]) == (
        figures["IMPRESSION"], figures["SAVE"], figures["PIN_CLICK"])
    assert days[3]["engagement_rate"] == (Decimal(figures["ENGAGEMENT"]) / figures["IMPRESSION"]).quantize(
        Decimal("0.000001"))

    account = rows(database_url, "select date, pin_impressions, pin_clicks, revenue, orders from public.daily_metrics"
                                 " where user_id = %s order by date", user.id)
    assert len(account) == 89
    assert [(r["pin_impressions"], r["pin_clicks"]) for r in account] == [
        (fake.account_day(r["date"])["IMPRESSION"], fake.account_day(r["date"])["PIN_CLICK"]) for r in account]
    assert {(r["revenue"], r["orders"]) for r in account} == {(0, 0)}  # not ours to write

    metadata = world.integration(user.id)["metadata"]
    assert metadata["data_sync"]["state"] == "complete"
    assert metadata["data_sync"]["pins_read"] == 25 and metadata["data_sync"]["pins_with_metrics"] == 25
    assert metadata["ad_account_count"] == 2
    assert [a["id"] for a in metadata["ad_accounts"]] == [a["id"] for a in fake.ad_accounts]
    assert set(metadata["ad_accounts"][0]) == {"id", "name", "currency", "country"}
    assert metadata["board_count"] == 3


def test_the_pins_export_shows_the_synced_impressions_saves_clicks_and_engagement(world, user):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    fake.add_pins(2)
    sync_data(world, user)

    today = datetime.now(timezone.utc).date()
    response = world.client.get("/api/export", headers=user.headers, buffered=True, query_string={
        "type": "pins", "format": "json", "startDate": (today - timedelta(days=2)).isoformat(),
        "endDate": today.isoformat(),
        "fields": "title,board_name,status,impressions,saves,clicks,engagement_rate,pinterest_pin_id"})
    assert response.status_code == 200, response.get_data(as_text=True)
    exported = {r["pinterest_pin_id"]: r for r in response.json}
    start, _ = window()
    for pin in fake.pins:
        days = [fake.pin_day(pin["id"], start + timedelta(days=n)) for n in range(89)]
        impressions = sum(d["IMPRESSION"] for d in days)
        row = exported[pin["id"]]
        assert (row["title"], row["board_name"], row["status"]) == (pin["title"], fake.boards[0]["name"], "published")
        assert (row["impressions"], row["saves"], row["clicks"]) == (
            impressions, sum(d["SAVE"] for d in days), sum(d["PIN_CLICK"] for d in days))
        # Engagements over impressions, from the days' rates (each rounded to 6 places).
        expected = sum(d["ENGAGEMENT"] for d in days) / impressions
        assert abs(float(row["engagement_rate"]) - expected) < 1e-5


def test_a_429_half_way_is_recorded_incomplete_removes_nothing_and_waits_for_the_reset(
        world, user, database_url, settings):
    fake = world.fake
    fake.add_boards(2)
    connect(world, user.headers)
    fake.add_pins(25)
    sync_data(world, user)
    gone = fake.pins.pop(0)["id"]  # deleted on Pinterest
    fake.add_pins(3)
    fake.rate_limit_reset = 120
    fake.fail_next("pins", 429, after=1)  # the second page is refused

    response = world.client.post("/api/integrations/pinterest/sync?what=data", headers=user.headers)
    item_id = response.json["retry_item_id"]
    context = worker_context(world.settings, world.db)
    with world.db.as_service() as conn:
        claimed = conn.execute("select id::text, user_id::text, operation_type, payload, attempts, max_attempts"
                               " from public.claim_retry_items('w-429', 10)").fetchone()
    job = Job(claimed["id"], claimed["user_id"], claimed["operation_type"], claimed["payload"], claimed["attempts"],
              claimed["max_attempts"], context)
    registry = build_registry(world.settings, context.providers)
    with pytest.raises(ProviderUnavailable) as raised:
        registry.handlers[job.operation_type](job)
    assert raised.value.status == 429 and retry_delay(raised.value) == pytest.approx(120, abs=2)

    state = sync_state(world, user.id)
    assert state["state"] == "incomplete" and "429" in state["error"] and state["pins_read"] == PAGE
    stored = pins(database_url, user.id)
    assert stored[gone]["status"] == "published"  # not removed on the word of a partial listing
    assert len(stored) == 25  # the three new pins are on the page that was refused

    # The worker records the failure so that the next try comes after the limit's reset.
    worker = Worker(world.settings, registry, context.providers, database_url, worker_id="w-429")
    worker._connect()
    try:
        worker._record_and_claim([Outcome(job, raised.value)], 0, None)
    finally:
        worker._disconnect()
    item = rows(database_url, "select status, next_retry_at - now() as wait, last_error from public.retry_queue"
                              " where id = %s", item_id)[0]
    assert item["status"] == "pending" and "429" in item["last_error"]
    assert item["wait"] >= timedelta(seconds=120)
    base, cap = backoff_bounds(raised.value, 1, settings)
    assert base * 0.8 >= 120 and cap >= base

    # Once the reset has passed, the retry completes: then, and only then, the gone pin is removed.
    with world.db.as_service() as conn:
        conn.execute("update public.retry_queue set next_retry_at = now() where id = %s", [item_id])
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    stored = pins(database_url, user.id)
    assert stored[gone]["status"] == "removed"
    assert {k for k, v in stored.items() if v["status"] == "published"} == {p["id"] for p in fake.pins}
    assert sync_state(world, user.id)["state"] == "complete"


def test_a_sync_stopped_in_the_metrics_resumes_after_the_pins_it_did(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    fake.add_pins(12)
    fake.fail_next("pin_analytics", 503, after=5)

    ran = sync_data(world, user, rounds=1)

    assert isinstance(ran[0].error, ProviderUnavailable)
    assert sync_state(world, user.id)["state"] == "incomplete"
    assert len(fake.ops("pin_analytics")) == 6
    assert len(rows(database_url, "select distinct pin_id from public.pin_analytics where user_id = %s", user.id)) == 5

    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    asked = [r["pin_id"] for r in fake.ops("pin_analytics")]
    assert len(asked) == 6 + 7 and len(set(asked)) == 12  # the five done are not asked again
    assert sync_state(world, user.id)["state"] == "complete"
    assert len(rows(database_url, "select distinct pin_id from public.pin_analytics where user_id = %s", user.id)) == 12


def test_a_pin_pinterest_will_not_report_on_is_counted_not_retried_for_ever(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    shared = fake.add_pins(2)[0]["id"]
    fake.foreign_pins.add(shared)  # on a group board: listed, its analytics are its owner's

    assert [r.error for r in sync_data(world, user)] == [None]

    state = sync_state(world, user.id)
    assert (state["state"], state["pins_with_metrics"], state["pins_without_metrics"]) == ("complete", 1, 1)


def test_ad_accounts_refused_leave_an_empty_list_and_a_note(world, user):
    world.fake.add_boards(1)
    connect(world, user.headers)
    world.fake.fail_next("ad_accounts", 403)

    assert [r.error for r in sync_data(world, user)] == [None]

    metadata = world.integration(user.id)["metadata"]
    assert metadata["ad_accounts"] == [] and metadata["ad_account_count"] == 0
    assert "403" in metadata["ad_accounts_note"]


def test_the_periodic_job_queues_one_data_sync_per_connected_account(world, user, make_user, database_url):
    world.fake.add_boards(1)
    connect(world, user.headers)
    make_user()  # not connected: nothing queued for it
    context = worker_context(world.settings, world.db)

    queue_data_syncs(context)
    queue_data_syncs(context)  # one is pending: no second

    items = rows(database_url, "select user_id::text, status from public.retry_queue"
                               " where operation_type = 'pinterest.sync_data'")
    assert items == [{"user_id": user.id, "status": "pending"}]
    assert "pinterest.queue_data_syncs" in build_registry(world.settings, context.providers).periodic_jobs


def test_sync_what_is_validated(world, user):
    world.fake.add_boards(1)
    connect(world, user.headers)
    response = world.client.post("/api/integrations/pinterest/sync?what=everything", headers=user.headers)
    assert response.status_code == 400
    first = world.client.post("/api/integrations/pinterest/sync?what=data", headers=user.headers).json
    second = world.client.post("/api/integrations/pinterest/sync?what=data", headers=user.headers).json
    assert second == {**first, "already_queued": True} and first["already_queued"] is False


# --- publishing pins --------------------------------------------------------------------------------

def board_id(database_url: str, user_id: str) -> str:
    return str(rows(database_url, "select id from public.pinterest_boards where user_id = %s order by name",
                    user_id)[0]["id"])


def new_pin(world: PinterestWorld, user: Any, board: str, **fields: Any) -> dict[str, Any]:
    body = {"board_id": board, "image_url": "https://cdn.haven.example/print.jpg", **fields}
    response = world.client.post("/api/pinterest/pins", json=body, headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


def test_due_scheduled_pins_are_published_and_a_refused_one_lands_on_the_failed_list(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    board = board_id(database_url, user.id)
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    due = new_pin(world, user, board, title="Quiet mornings", description="Calm", link="https://haven.example/p/1",
                  alt_text="A print", scheduled_at=past)
    fake.blocked_links.add("spam.example")
    refused = new_pin(world, user, board, title="Spam", link="https://spam.example/x", scheduled_at=past)
    later = new_pin(world, user, board, scheduled_at=(datetime.now(timezone.utc) + timedelta(days=1)).isoformat())
    draft = new_pin(world, user, board, title="Draft")
    assert (due["status"], later["status"], draft["status"]) == ("scheduled", "scheduled", "draft")

    context = worker_context(world.settings, world.db)
    publish_due_pins(context)
    publish_due_pins(context)  # claimed already: nothing queued twice
    ran = run_queued(world.settings, world.db)

    assert sorted((r.operation_type, r.error is None) for r in ran) == [
        ("pinterest.create_pin", False), ("pinterest.create_pin", True)]
    stored = {str(r["id"]): r for r in rows(database_url, "select * from public.pins where user_id = %s", user.id)}
    published = stored[due["id"]]
    created = [r["body"] for r in fake.ops("create_pin") if r["body"]["title"] == "Quiet mornings"][0]
    assert created == {"board_id": fake.boards[0]["id"], "title": "Quiet mornings", "description": "Calm",
                       "link": "https://haven.example/p/1", "alt_text": "A print",
                       "media_source": {"source_type": "image_url", "url": "https://cdn.haven.example/print.jpg"}}
    assert published["status"] == "published" and published["published_at"] is not None
    assert published["pinterest_pin_id"] in {p["id"] for p in fake.pins}
    failed = stored[refused["id"]]
    assert failed["status"] == "failed" and "blocked this link" in failed["last_error"]
    assert failed["pinterest_pin_id"] is None
    assert (stored[later["id"]]["status"], stored[draft["id"]]["status"]) == ("scheduled", "draft")

    errors = world.client.get("/api/errors?status=failed", headers=user.headers).json
    assert [(i["operation_type"], i["status"]) for i in errors["items"]] == [("pinterest.create_pin", "failed")]
    assert "400" in errors["items"][0]["last_error"] and "blocked this link" in errors["items"][0]["last_error"]
    assert world.fake.access_tokens and not any(t in errors["items"][0]["last_error"] for t in world.fake.issued)

    # A sync afterwards finds the published pin as the same row, not an import of its own.
    assert [r.error for r in sync_data(world, user)] == [None]
    assert len(rows(database_url, "select 1 from public.pins where pinterest_pin_id = %s",
                    published["pinterest_pin_id"])) == 1


def test_a_publish_that_keeps_failing_is_retried_then_marks_the_pin_failed(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    pin = new_pin(world, user, board_id(database_url, user.id),
                  scheduled_at=(datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat())
    for _ in range(5):
        fake.fail_next("create_pin", 503)

    publish_due_pins(worker_context(world.settings, world.db))
    first = run_queued(world.settings, world.db, rounds=1)
    assert isinstance(first[0].error, ProviderUnavailable)
    assert rows(database_url, "select status from public.pins where id = %s", pin["id"])[0]["status"] == "publishing"

    run_queued(world.settings, world.db)  # the other four attempts

    stored = rows(database_url, "select status, last_error from public.pins where id = %s", pin["id"])[0]
    assert stored["status"] == "failed" and "503" in stored["last_error"]
    item = rows(database_url, "select status, attempts from public.retry_queue where reference_id = %s", pin["id"])
    assert item == [{"status": "failed", "attempts": 5}]


def test_claims_of_due_pins_never_overlap(world, user, database_url):
    world.fake.add_boards(1)
    connect(world, user.headers)
    board = board_id(database_url, user.id)
    for _ in range(3):
        new_pin(world, user, board, scheduled_at=(datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat())
    with psycopg.connect(database_url) as first, psycopg.connect(database_url) as second:
        taken = first.execute("select pin_id from public.claim_due_pins(2)").fetchall()
        # The first claim's transaction is still open: the second skips its rows, without waiting.
        second.execute("set lock_timeout = '2s'")
        other = second.execute("select pin_id from public.claim_due_pins(10)").fetchall()
        assert len(taken) == 2 and len(other) == 1 and not set(taken) & set(other)


@pytest.mark.parametrize("fields", [
    {"title": "t" * 101}, {"description": "d" * 501}, {"alt_text": "a" * 501}, {"link": "javascript:alert(1)"},
    {"link": "https://x.example/" + "a" * 2048}, {"image_url": "ftp://x.example/i.jpg"}, {"board_id": "nope"},
    {"scheduled_at": "tomorrow"}, {"status": "published"},
], ids=["title", "description", "alt_text", "link_scheme", "link_length", "image_scheme", "board_id", "time",
        "unknown"])
def test_a_pin_off_the_rules_is_400_and_stores_nothing(world, user, database_url, fields):
    world.fake.add_boards(1)
    connect(world, user.headers)
    body = {"board_id": board_id(database_url, user.id), "image_url": "https://cdn.haven.example/p.jpg", **fields}
    response = world.client.post("/api/pinterest/pins", json=body, headers=user.headers)
    assert response.status_code == 400, response.json
    assert rows(database_url, "select count(*) as n from public.pins")[0]["n"] == 0


def test_a_pin_on_someone_elses_board_is_404(world, user, make_user, database_url):
    world.fake.add_boards(1)
    connect(world, user.headers)
    other = make_user()
    response = world.client.post("/api/pinterest/pins", headers=other.headers, json={
        "board_id": board_id(database_url, user.id), "image_url": "https://cdn.haven.example/p.jpg"})
    assert response.status_code == 404
    assert rows(database_url, "select count(*) as n from public.pins")[0]["n"] == 0


# --- deleting pins, creating boards ------------------------------------------------------------------

def test_delete_pin_on_pinterest_then_here_and_a_draft_at_once(world, user, make_user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    fake.add_pins(2)
    sync_data(world, user)
    target = pins(database_url, user.id)[fake.pins[0]["id"]]
    draft = new_pin(world, user, board_id(database_url, user.id))

    assert world.client.delete(f"/api/pinterest/pins/{target['id']}", headers=make_user().headers).status_code == 404
    queued = world.client.delete(f"/api/pinterest/pins/{target['id']}", headers=user.headers)
    again = world.client.delete(f"/api/pinterest/pins/{target['id']}", headers=user.headers)
    assert queued.status_code == 202 and again.json == {**queued.json, "already_queued": True}
    assert world.client.delete(f"/api/pinterest/pins/{draft['id']}", headers=user.headers).status_code == 204

    assert [(r.operation_type, r.error) for r in run_queued(world.settings, world.db)] == [
        ("pinterest.delete_pin", None)]
    assert [r["pin_id"] for r in fake.ops("delete_pin")] == [target["pinterest_pin_id"]]
    assert target["pinterest_pin_id"] not in {p["id"] for p in fake.pins}
    assert rows(database_url, "select id from public.pins where id in (%s, %s)", target["id"], draft["id"]) == []


def test_a_pin_being_published_cannot_be_deleted(world, user, database_url):
    world.fake.add_boards(1)
    connect(world, user.headers)
    pin = new_pin(world, user, board_id(database_url, user.id),
                  scheduled_at=(datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat())
    publish_due_pins(worker_context(world.settings, world.db))  # claimed: publishing

    response = world.client.delete(f"/api/pinterest/pins/{pin['id']}", headers=user.headers)

    assert response.status_code == 409 and response.json["error"] == "publishing"
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    assert rows(database_url, "select status from public.pins where id = %s", pin["id"])[0]["status"] == "published"


def test_delete_of_a_pin_already_gone_on_pinterest_still_deletes_it_here(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    fake.add_pins(1)
    sync_data(world, user)
    target = pins(database_url, user.id)[fake.pins[0]["id"]]
    fake.pins.clear()

    world.client.delete(f"/api/pinterest/pins/{target['id']}", headers=user.headers)
    assert [r.error for r in run_queued(world.settings, world.db)] == [None]
    assert rows(database_url, "select id from public.pins where id = %s", target["id"]) == []


def test_create_board_through_the_queue_and_a_refusal_on_the_failed_list(world, user, database_url):
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)

    queued = world.client.post("/api/pinterest/boards", headers=user.headers,
                               json={"name": "Nursery prints", "description": "Soft", "privacy": "SECRET"})
    duplicate = world.client.post("/api/pinterest/boards", headers=user.headers, json={"name": fake.boards[0]["name"]})
    assert queued.status_code == 202 and duplicate.status_code == 202
    ran = run_queued(world.settings, world.db)

    assert sorted((r.payload["name"], r.error is None) for r in ran) == [
        (fake.boards[0]["name"], False), ("Nursery prints", True)]
    board = world.boards(user.id)
    created = [b for b in fake.boards if b["name"] == "Nursery prints"][0]
    assert (board[created["id"]]["name"], board[created["id"]]["privacy"]) == ("Nursery prints", "SECRET")
    assert world.integration(user.id)["metadata"]["board_count"] == 2
    failed = world.client.get("/api/errors?status=failed", headers=user.headers).json["items"]
    assert [i["operation_type"] for i in failed] == ["pinterest.create_board"]
    assert "already have a board" in failed[0]["last_error"]


def test_board_and_pin_calls_need_a_connection_and_valid_bodies(world, user):
    assert world.client.post("/api/pinterest/boards", headers=user.headers, json={"name": "x"}).status_code == 409
    world.fake.add_boards(1)
    connect(world, user.headers)
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 181}, {"name": "x", "privacy": "FRIENDS"}, {}):
        assert world.client.post("/api/pinterest/boards", headers=user.headers, json=body).status_code == 400, body
    assert world.client.post("/api/pinterest/boards", json={"name": "x"}).status_code == 401


# --- the client's reading of rate limits and analytics -------------------------------------------------

def test_rate_limit_wait_reads_retry_after_and_the_reset():
    from requests.models import Response

    from service.providers.http import rate_limit_wait

    def answer(**headers: str) -> Response:
        response = Response()
        response.status_code = 429
        response.headers.update(headers)
        return response

    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "67"})) == 67
    assert rate_limit_wait(answer(**{"Retry-After": "5", "X-RateLimit-Reset": "30"})) == 30
    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "2000000100"}), now=2000000000) == 100
    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "nan"})) is None
    assert rate_limit_wait(answer(**{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert rate_limit_wait(answer()) is None
    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "999999999"})) == 86400  # at most a day


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("wait", [1.0, 45.0, 600.0, 20000.0, 86400.0])
def test_the_backoff_never_comes_before_the_providers_wait(settings, attempt, wait):
    error = ProviderUnavailable("pinterest", "rate limited (429)", status=429, retry_after=wait)
    base, cap = backoff_bounds(error, attempt, settings)
    nominal = min(cap, base * 2 ** (attempt - 1))
    assert nominal * 0.8 >= wait - 1e-6 and cap >= base
    # Nor sooner than the queue's own backoff would have tried.
    plain_base, plain_cap = backoff_bounds(ProviderUnavailable("pinterest", "down"), attempt, settings)
    assert (plain_base, plain_cap) == (settings.queue_backoff_base_seconds, settings.queue_backoff_cap_seconds)
    assert nominal >= min(plain_cap, plain_base * 2 ** (attempt - 1))


@pytest.mark.parametrize("metrics", [{"IMPRESSION": "many"}, {"IMPRESSION": -1}, {"SAVE": 1.5}, {"PIN_CLICK": True},
                                     {"IMPRESSION": 2**63}],
                         ids=["text", "negative", "fraction", "bool", "huge"])
def test_an_analytics_day_off_the_contract_is_unavailable_not_stored(metrics):
    body = {"all": {"daily_metrics": [{"date": "2026-11-01", "data_status": "READY", "metrics": metrics}]}}
    with pytest.raises(ProviderUnavailable):
        client_module._days(body, client_module._pin_day)


def test_analytics_days_keep_ready_and_estimated_days_only():
    body = {"all": {"daily_metrics": [
        {"date": "2026-11-01", "data_status": "READY", "metrics": {"IMPRESSION": 10.0, "SAVE": 1, "PIN_CLICK": 2}},
        {"date": "2026-11-02", "data_status": "ESTIMATE", "metrics": {"IMPRESSION": 0, "ENGAGEMENT": 0}},
        {"date": "2026-11-03", "data_status": "PROCESSING", "metrics": {}},
        {"date": "2026-10-01", "data_status": "BEFORE_PIN_CREATED", "metrics": {"IMPRESSION": 0}}]}}
    days = client_module._days(body, client_module._pin_day)
    assert [(d.date, d.impressions, d.saves, d.clicks, d.engagement_rate) for d in days] == [
        ("2026-11-01", 10, 1, 2, Decimal("0.300000")), ("2026-11-02", 0, 0, 0, Decimal("0.000000"))]
    assert client_module._days({"all": {}}, client_module._pin_day) == []
    for spoiled in ({}, {"all": {"daily_metrics": "x"}}, {"all": {"daily_metrics": [{"date": "Nov 1"}]}}):
        with pytest.raises(ProviderUnavailable):
            client_module._days(spoiled, client_module._pin_day)


# --- through a running worker --------------------------------------------------------------------

def test_a_running_worker_publishes_due_pins_and_keeps_the_data_current(world, user, database_url):
    """The periodic jobs as the worker runs them: the publisher claims due pins and their items
    run; the data sync is queued and run for the connected account."""
    fake = world.fake
    fake.add_boards(1)
    connect(world, user.headers)
    fake.add_pins(3)
    fake.blocked_links.add("spam.example")
    board = board_id(database_url, user.id)
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    good = new_pin(world, user, board, title="Good", scheduled_at=past)
    bad = new_pin(world, user, board, title="Bad", link="https://spam.example/", scheduled_at=past)
    fast = replace(world.settings, pinterest_publish_every_seconds=0.2, pinterest_sync_every_seconds=3600,
                   queue_backoff_base_seconds=0.01, queue_backoff_cap_seconds=0.05)
    running = Worker(fast, build_registry(fast, providers.catalog()), providers.catalog(), database_url,
                     WorkerOptions(concurrency=2, batch=10, poll_seconds=0.05, heartbeat_seconds=0.2))
    thread = threading.Thread(target=running.run, name="test-pinterest-worker")
    thread.start()
    try:
        def statuses() -> dict[str, str]:
            return {str(r["id"]): r["status"] for r in rows(
                database_url, "select id, status from public.pins where id in (%s, %s)", good["id"], bad["id"])}

        wait_until(lambda: statuses() == {good["id"]: "published", bad["id"]: "failed"}, what="both pins settled")
        wait_until(lambda: (world.integration(user.id)["metadata"].get("data_sync") or {}).get("state") == "complete",
                   what="the periodic data sync")
    finally:
        running.stop()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the worker did not stop"
    items = rows(database_url, "select operation_type, status from public.retry_queue where user_id = %s"
                               " and operation_type <> 'pinterest.sync_boards' order by operation_type, status", user.id)
    assert [(i["operation_type"], i["status"]) for i in items] == [
        ("pinterest.create_pin", "failed"), ("pinterest.create_pin", "resolved"), ("pinterest.sync_data", "resolved")]
    assert {p["id"] for p in fake.pins} <= set(pins(database_url, user.id))
