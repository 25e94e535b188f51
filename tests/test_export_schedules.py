"""Scheduled exports: the schedules API (validation, RLS), claiming due schedules, and runs end to
end — periodic job -> queue item -> handler -> a fake Resend or a stored file — including a
provider error, a timeout after Resend accepted, and files only their owner can download."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from service.config import Settings
from service.db import Database
from service.exports.scheduled import RUN_OPERATION, queue_due_runs, run_period
from service.integrations import records
from service.errors import ProviderRejected
from service.providers.resend import send_email
from service.queue.registry import Registry, WorkerContext
from service.queue.worker import error_text
from tests.fakes.resend import FakeResend
from tests.support.flow import registry_for, run_due_items, worker_context
from tests.support.exports import export_history

RESEND_KEY = "re_good_resend_key_0001"
SENDER = "exports@haven.test"
WORKER = "test-worker"
ORDER_FIELDS = ["shopify_order_id", "customer_email", "total"]


# -- fixtures and helpers --------------------------------------------------------------------------

@pytest.fixture
def resend(httpserver) -> Iterator[FakeResend]:  # type: ignore[no-untyped-def]
    fake = FakeResend(httpserver, keys=(RESEND_KEY,))
    yield fake
    fake.close()


@pytest.fixture
def worker_settings(settings: Settings, resend: FakeResend) -> Settings:
    return replace(settings, resend_api_base=resend.base_url, http_timeout_seconds=2.0)


@pytest.fixture
def make_user(make_user, db: Database):  # type: ignore[no-untyped-def]
    """Users with Resend connected: an email schedule is refused while no sender can be found."""

    def make(email: str | None = None):  # type: ignore[no-untyped-def]
        created = make_user(email)
        connect_resend(db, created.id)
        return created

    return make


@pytest.fixture
def context(worker_settings: Settings, db: Database) -> WorkerContext:
    return worker_context(worker_settings, db)


@pytest.fixture
def registry(worker_settings: Settings) -> Registry:
    return registry_for(worker_settings)


def connect_resend(db: Database, user_id: str, from_email: str | None = SENDER) -> None:
    with db.as_service() as conn:
        records.mark_connected(conn, user_id, "resend", metadata={"from_email": from_email},
                               credentials={"api_key": RESEND_KEY})


def sql(database_url: str, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def last_monday(database_url: str) -> datetime:
    """The most recent weekly boundary at or before now (a run time that is due)."""
    return sql(database_url, "select public.first_export_run_at('weekly') - interval '7 days'")[0][0]


def create(client, user, **body: Any):  # type: ignore[no-untyped-def]
    payload = {"export_type": "orders", "frequency": "weekly", "delivery_method": "email",
               "delivery_email": "owner@shop.example.com", **body}
    return client.post("/api/export/schedules", json=payload, headers=user.headers)


def make_due(database_url: str, schedule_id: str, run_at: datetime) -> None:
    sql(database_url, "update public.scheduled_exports set next_run_at = %s where id = %s", [run_at, schedule_id])


def seed_orders(database_url: str, user_id: str, run_at: datetime) -> None:
    """Orders inside the week before run_at (in), just before it, and at run_at itself (out)."""
    rows = [("in-1", "a@x.test", "10.00", run_at - timedelta(days=1)),
            ("in-2", "=cmd", "-2.50", run_at - timedelta(days=7)),
            ("old", "b@x.test", "1.00", run_at - timedelta(days=7, microseconds=1)),
            ("now", "c@x.test", "3.00", run_at)]
    with psycopg.connect(database_url) as conn:
        for order_id, email, total, at in rows:
            conn.execute("insert into public.customer_orders (user_id, shopify_order_id, customer_email, total,"
                         " created_at) values (%s, %s, %s, %s, %s)", [user_id, order_id, email, total, at])


def drain(context: WorkerContext, registry: Registry) -> list[str | None]:
    """Runs every due queue item once, as the worker does, with the queue's own backoff."""
    outcomes: list[str | None] = []
    while results := run_due_items(context, registry, runner=WORKER, retry_at_once=False):
        outcomes.extend(None if error is None else error_text(error) for _, error in results)
    return outcomes


def retry_due_now(database_url: str) -> None:
    """Skips the backoff: the failed items become due (the clock moving on)."""
    sql(database_url, "update public.retry_queue set next_retry_at = now() where status = 'pending'")


def queue_items(database_url: str) -> list[tuple[Any, ...]]:
    return sql(database_url, "select status, payload, attempts, last_error from public.retry_queue"
                             " where operation_type = %s order by created_at", [RUN_OPERATION])


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


# -- the API ---------------------------------------------------------------------------------------

def test_create_list_get_a_schedule(client, user, database_url):
    response = create(client, user, field_selection=ORDER_FIELDS, format="json")
    assert response.status_code == 201, response.get_json()
    schedule = response.get_json()
    expected_first = sql(database_url, "select public.first_export_run_at('weekly')")[0][0]
    assert datetime.fromisoformat(schedule["next_run_at"]) == expected_first
    assert expected_first.weekday() == 0 and expected_first > datetime.now(timezone.utc)
    assert schedule["date_range_type"] == "last_week"  # the frequency's natural period by default
    assert schedule["field_selection"] == ORDER_FIELDS and schedule["format"] == "json"
    assert schedule["last_run_at"] is None and schedule["enabled"] is True
    listed = client.get("/api/export/schedules", headers=user.headers).get_json()["schedules"]
    assert [s["id"] for s in listed] == [schedule["id"]]
    assert client.get(f"/api/export/schedules/{schedule['id']}", headers=user.headers).get_json() == schedule


def test_empty_field_selection_means_defaults(client, user):
    schedule = create(client, user, field_selection=[], delivery_method="download", delivery_email=None).get_json()
    assert schedule["field_selection"] is None and schedule["delivery_email"] is None


@pytest.mark.parametrize(("body", "needle"), [
    ({"export_type": "invoices"}, "export_type"),
    ({"format": "xlsx"}, "format"),
    ({"field_selection": ["total", "nope"]}, "unknown field(s) for orders: nope"),
    ({"field_selection": ["total", "total"]}, "more than once: total"),
    ({"date_range_type": "yesterday"}, "date_range_type"),
    ({"frequency": "daily"}, "frequency"),
    ({"delivery_method": "fax"}, "delivery_method"),
    ({"delivery_email": None}, "delivery_email is required"),
    ({"delivery_email": "not-an-address"}, "delivery_email"),
    ({"next_run_at": "2026-12-01T00:00:00Z"}, "next_run_at"),
    ({"enabled": None}, "enabled"),
])
def test_bad_schedules_are_400_naming_the_problem(client, user, database_url, body, needle):
    response = create(client, user, **body)
    assert response.status_code == 400, response.get_json()
    assert needle in json.dumps(response.get_json())
    assert sql(database_url, "select count(*) from public.scheduled_exports")[0][0] == 0


def test_a_body_that_is_not_an_object_is_400(client, user):
    response = client.post("/api/export/schedules", json=["orders"], headers=user.headers)
    assert response.status_code == 400


def test_patch_recomputes_next_run_when_the_frequency_changes(client, user, database_url):
    schedule = create(client, user).get_json()
    response = client.patch(f"/api/export/schedules/{schedule['id']}", json={"frequency": "monthly"},
                            headers=user.headers)
    assert response.status_code == 200, response.get_json()
    patched = response.get_json()
    first_monthly = sql(database_url, "select public.first_export_run_at('monthly')")[0][0]
    assert datetime.fromisoformat(patched["next_run_at"]) == first_monthly and first_monthly.day == 1
    assert patched["date_range_type"] == "last_week"  # kept: the user chose it (by default) already
    renamed = client.patch(f"/api/export/schedules/{schedule['id']}", json={"delivery_email": "new@shop.example.com"},
                           headers=user.headers).get_json()
    assert renamed["next_run_at"] == patched["next_run_at"] and renamed["delivery_email"] == "new@shop.example.com"


@pytest.mark.parametrize(("body", "needle"), [
    ({}, "nothing to change"),
    ({"delivery_method": "email", "delivery_email": None}, "delivery_email"),
    ({"field_selection": ["email"], "export_type": "pins"}, "unknown field(s) for pins: email"),
    ({"frequency": None}, "frequency"),
    ({"enabled": None}, "enabled"),
    ({"export_type": "invoices"}, "export_type"),
    ({"id": "x"}, "id"),
])
def test_bad_patches_are_400_and_change_nothing(client, user, body, needle):
    schedule = create(client, user).get_json()
    response = client.patch(f"/api/export/schedules/{schedule['id']}", json=body, headers=user.headers)
    assert response.status_code == 400 and needle in json.dumps(response.get_json())
    assert client.get(f"/api/export/schedules/{schedule['id']}", headers=user.headers).get_json() == schedule


@pytest.mark.parametrize(("body", "needle"), [
    ({"delivery_email": None}, "delivery_email is required"),
    ({"field_selection": ["title"]}, "unknown field(s) for orders: title"),
    ({"export_type": "pins", "delivery_method": "download"}, "unknown field(s) for pins: shopify_order_id"),
])
def test_patches_that_conflict_with_the_stored_schedule_are_409_and_change_nothing(client, user, body, needle):
    schedule = create(client, user, field_selection=ORDER_FIELDS).get_json()
    response = client.patch(f"/api/export/schedules/{schedule['id']}", json=body, headers=user.headers)
    assert response.status_code == 409 and needle in json.dumps(response.get_json())
    assert client.get(f"/api/export/schedules/{schedule['id']}", headers=user.headers).get_json() == schedule


def test_delete_a_schedule(client, user):
    schedule = create(client, user).get_json()
    response = client.delete(f"/api/export/schedules/{schedule['id']}", headers=user.headers)
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get(f"/api/export/schedules/{schedule['id']}", headers=user.headers).status_code == 404
    assert client.delete(f"/api/export/schedules/{schedule['id']}", headers=user.headers).status_code == 404


def test_schedules_need_a_signed_in_caller(client):
    assert client.get("/api/export/schedules").status_code == 401
    assert client.post("/api/export/schedules", json={}).status_code == 401


def test_another_user_cannot_see_change_or_delete_a_schedule(client, make_user):
    alice, bob = make_user(), make_user()
    schedule = create(client, alice).get_json()
    path = f"/api/export/schedules/{schedule['id']}"
    assert client.get("/api/export/schedules", headers=bob.headers).get_json() == {"schedules": []}
    assert client.get(path, headers=bob.headers).status_code == 404
    assert client.patch(path, json={"enabled": False}, headers=bob.headers).status_code == 404
    assert client.delete(path, headers=bob.headers).status_code == 404
    assert client.get(path, headers=alice.headers).get_json() == schedule


# -- claiming ---------------------------------------------------------------------------------------

def test_concurrent_claims_skip_each_others_schedules(client, user, database_url):
    ids = {create(client, user, export_type=t).get_json()["id"] for t in ("orders", "leads", "pins", "quotes")}
    sql(database_url, "update public.scheduled_exports set next_run_at = now() - interval '1 hour'")
    with psycopg.connect(database_url) as first, psycopg.connect(database_url, autocommit=True) as second:
        first.execute("set local role service_role")
        held = {r[0] for r in first.execute("select id::text from public.claim_due_exports(2)")}
        # The first claim is not committed: its rows are locked. The second must skip, not wait.
        second.execute("set lock_timeout = '2s'")
        second.execute("set role service_role")
        taken = {r[0] for r in second.execute("select id::text from public.claim_due_exports(10)")}
        assert len(held) == 2 and len(taken) == 2 and held | taken == ids and not held & taken
        for schedule_id in held:
            first.execute("select public.advance_scheduled_export(%s)", [schedule_id])
        first.commit()
        # Advanced by the first session: no longer due; the second's are still due (never advanced).
        assert {r[0] for r in second.execute("select id::text from public.claim_due_exports(10)")} == taken


def test_the_periodic_job_queues_one_run_per_period_and_advances(client, user, database_url, context):
    schedule = create(client, user).get_json()
    run_at = last_monday(database_url)
    make_due(database_url, schedule["id"], run_at - timedelta(days=7))  # two runs behind
    assert queue_due_runs(context) == 2
    items = queue_items(database_url)
    assert [item[1] for item in items] == [
        {"schedule_id": schedule["id"], "run_at": (run_at - timedelta(days=7)).isoformat()},
        {"schedule_id": schedule["id"], "run_at": run_at.isoformat()},
    ]
    row = sql(database_url, "select last_run_at, next_run_at from public.scheduled_exports")[0]
    assert row == (run_at, run_at + timedelta(days=7))
    assert queue_due_runs(context) == 0  # nothing runs twice


def test_run_periods():
    run_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert run_period("last_week", "weekly", run_at) == (datetime(2026, 2, 22, tzinfo=timezone.utc), run_at)
    assert run_period("last_month", "monthly", run_at) == (datetime(2026, 2, 1, tzinfo=timezone.utc), run_at)
    assert run_period(None, "monthly", datetime(2027, 1, 1, tzinfo=timezone.utc))[0] == datetime(
        2026, 12, 1, tzinfo=timezone.utc)
    assert run_period("last_month", "monthly", datetime(2026, 3, 31, tzinfo=timezone.utc))[0] == datetime(
        2026, 2, 28, tzinfo=timezone.utc)
    assert run_period("all_time", "weekly", run_at) == (None, run_at)


# -- runs end to end ---------------------------------------------------------------------------------

def due_email_schedule(client, user, database_url, db, **body: Any) -> tuple[dict[str, Any], datetime]:  # type: ignore[no-untyped-def]
    connect_resend(db, user.id)
    schedule = create(client, user, field_selection=ORDER_FIELDS, **body).get_json()
    run_at = last_monday(database_url)
    make_due(database_url, schedule["id"], run_at)
    seed_orders(database_url, user.id, run_at)
    return schedule, run_at


def test_a_due_email_schedule_is_emailed_once_with_its_rows_attached(client, user, database_url, db, context,
                                                                     registry, resend):
    schedule, run_at = due_email_schedule(client, user, database_url, db)
    assert queue_due_runs(context) == 1
    assert drain(context, registry) == [None]
    assert len(resend.emails) == 1
    email = resend.emails[0]
    assert email.payload["to"] == ["owner@shop.example.com"] and email.payload["from"] == SENDER
    attachment = email.payload["attachments"][0]
    assert attachment["filename"] == f"orders-export-{run_at.date().isoformat()}.csv"
    assert csv_rows(email.attachment()) == [["Shopify Order ID", "Customer Email", "Total"],
                                            ["in-1", "a@x.test", "10.00"], ["in-2", "'=cmd", "-2.50"]]
    assert email.idempotency_key and schedule["id"] in email.idempotency_key
    request = resend.seen[-1]
    assert request.headers["Authorization"] == f"Bearer {RESEND_KEY}" and request.headers["User-Agent"]
    [run] = export_history(database_url, schedule["id"])
    assert run["status"] == "completed" and run["record_count"] == 2 and run["scheduled_for"] == run_at
    assert run["delivery_method"] == "email" and run["delivery_id"] == email.id and run["delivered_at"]
    assert [item[0] for item in queue_items(database_url)] == ["resolved"]
    # The same run queued again (a duplicate item, a rescued worker) sends nothing more.
    sql(database_url, "select public.queue_for_retry(%s, %s, %s::jsonb)",
        [user.id, RUN_OPERATION, json.dumps({"schedule_id": schedule["id"], "run_at": run_at.isoformat()})])
    assert drain(context, registry) == [None]
    assert len(resend.emails) == 1 and resend.send_requests == 1


def test_json_attachment_parses_back_to_the_rows(client, user, database_url, db, context, registry, resend):
    due_email_schedule(client, user, database_url, db, format="json")
    queue_due_runs(context)
    assert drain(context, registry) == [None]
    assert json.loads(resend.emails[0].attachment()) == [
        {"shopify_order_id": "in-1", "customer_email": "a@x.test", "total": 10.00},
        {"shopify_order_id": "in-2", "customer_email": "=cmd", "total": -2.5}]


def test_a_resend_error_is_retried_and_delivers_exactly_once(client, user, database_url, db, context, registry,
                                                             resend):
    schedule, _ = due_email_schedule(client, user, database_url, db)
    resend.fail_next_sends(1, status=500)
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "server error (500)" in failure
    assert queue_items(database_url)[0][0] == "pending" and resend.emails == []
    retry_due_now(database_url)
    assert drain(context, registry) == [None]
    assert len(resend.emails) == 1 and resend.send_requests == 2
    keys = {r.headers["Idempotency-Key"] for r in resend.seen if r.path == "/emails"}
    assert len(keys) == 1
    [run] = export_history(database_url, schedule["id"])  # built once, delivered on the second attempt
    assert run["delivery_id"] == resend.emails[0].id and run["error"] is None


def test_a_timeout_after_resend_accepted_does_not_send_twice(client, user, database_url, db, registry, resend,
                                                             worker_settings):
    context = worker_context(replace(worker_settings, http_timeout_seconds=0.5), db)
    schedule, _ = due_email_schedule(client, user, database_url, db)
    resend.stall_next_accept()
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "no answer within" in failure
    assert len(resend.emails) == 1  # Resend sent it; we never heard back
    assert export_history(database_url, schedule["id"])[0]["delivered_at"] is None
    resend.release_stalled()
    retry_due_now(database_url)
    assert drain(context, registry) == [None]
    assert len(resend.emails) == 1 and resend.send_requests == 2
    assert export_history(database_url, schedule["id"])[0]["delivery_id"] == resend.emails[0].id


def test_without_a_resend_connection_the_run_fails_for_good_saying_why(client, user, database_url, db, context,
                                                                       registry, resend):
    schedule = create(client, user).get_json()
    with db.as_service() as conn:  # Resend disconnected after the schedule was made
        records.mark_disconnected(conn, user.id, "resend", delete_credentials=True)
    make_due(database_url, schedule["id"], last_monday(database_url))
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "Resend is not connected" in failure
    status, _, _, last_error = queue_items(database_url)[0]
    assert status == "failed" and "connect Resend" in last_error
    [run] = export_history(database_url, schedule["id"])
    assert run["delivered_at"] is None and "Resend is not connected" in run["error"]
    assert resend.send_requests == 0


def test_a_refused_key_fails_for_good(client, user, database_url, db, context, registry, resend):
    schedule, _ = due_email_schedule(client, user, database_url, db)
    resend.keys.clear()  # the key was revoked at Resend
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure == "resend: Resend refused the email (403 invalid_api_key)"
    assert queue_items(database_url)[0][0] == "failed" and resend.emails == []
    assert "invalid_api_key" in export_history(database_url, schedule["id"])[0]["error"]


def test_the_same_key_with_other_content_is_not_sent_again(resend, worker_settings):
    message = {"from": SENDER, "to": ["a@example.com"], "subject": "s", "text": "t"}
    first = send_email(worker_settings, RESEND_KEY, message, "run-1")
    assert send_email(worker_settings, RESEND_KEY, message, "run-1") == first
    with pytest.raises(ProviderRejected, match="already accepted"):
        send_email(worker_settings, RESEND_KEY, {**message, "subject": "other"}, "run-1")
    assert len(resend.emails) == 1


def test_the_sender_falls_back_to_the_setting(client, user, database_url, db, worker_settings, registry, resend):
    schedule = create(client, user).get_json()
    connect_resend(db, user.id, from_email=None)
    context = worker_context(replace(worker_settings, export_email_from="Haven <reports@haven.test>"), db)
    make_due(database_url, schedule["id"], last_monday(database_url))
    queue_due_runs(context)
    assert drain(context, registry) == [None]
    assert resend.emails[0].payload["from"] == "Haven <reports@haven.test>"


def test_a_file_too_big_to_email_fails_for_good_and_sends_nothing(client, user, database_url, db, registry, resend,
                                                                  worker_settings):
    context = worker_context(replace(worker_settings, export_attachment_max_bytes=40), db)
    schedule, _ = due_email_schedule(client, user, database_url, db)
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "larger than 40 bytes" in failure
    assert queue_items(database_url)[0][0] == "failed" and resend.send_requests == 0
    [run] = export_history(database_url, schedule["id"])
    assert run["status"] == "failed" and "email attachment" in run["error"]
    assert sql(database_url, "select count(*) from public.export_files")[0][0] == 0


def test_a_deleted_or_disabled_schedule_runs_nothing(client, user, database_url, db, context, registry, resend):
    deleted, _ = due_email_schedule(client, user, database_url, db)
    disabled = create(client, user, export_type="leads").get_json()
    make_due(database_url, disabled["id"], last_monday(database_url))
    assert queue_due_runs(context) == 2
    client.delete(f"/api/export/schedules/{deleted['id']}", headers=user.headers)
    sql(database_url, "update public.scheduled_exports set enabled = false")
    assert drain(context, registry) == [None, None]
    assert resend.send_requests == 0 and sql(database_url, "select count(*) from public.export_history")[0][0] == 0


def test_a_download_schedule_keeps_a_file_only_its_owner_can_download(client, make_user, database_url, context,
                                                                      registry, resend):
    alice, bob = make_user(), make_user()
    schedule = create(client, alice, delivery_method="download", delivery_email=None,
                      field_selection=ORDER_FIELDS).get_json()
    run_at = last_monday(database_url)
    make_due(database_url, schedule["id"], run_at)
    seed_orders(database_url, alice.id, run_at)
    seed_orders(database_url, bob.id, run_at)
    queue_due_runs(context)
    assert drain(context, registry) == [None]
    assert resend.send_requests == 0
    [listed] = client.get("/api/export/files", headers=alice.headers).get_json()["files"]
    assert listed["scheduled_export_id"] == schedule["id"] and listed["record_count"] == 2
    assert datetime.fromisoformat(listed["scheduled_for"]) == run_at
    response = client.get(f"/api/export/files/{listed['id']}", headers=alice.headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="orders-export-{run_at.date().isoformat()}.csv"')
    assert csv_rows(response.get_data())[1:] == [["in-1", "a@x.test", "10.00"], ["in-2", "'=cmd", "-2.50"]]
    assert int(response.headers["Content-Length"]) == listed["byte_size"] == len(response.get_data())
    [run] = export_history(database_url, schedule["id"])
    assert run["delivery_method"] == "download" and run["delivered_at"] and run["delivery_id"] is None
    # Bob: neither the list nor the file; an unknown id reads the same.
    assert client.get("/api/export/files", headers=bob.headers).get_json() == {"files": []}
    assert client.get(f"/api/export/files/{listed['id']}", headers=bob.headers).status_code == 404
    assert client.get("/api/export/files/00000000-0000-4000-8000-000000000000",
                      headers=alice.headers).status_code == 404


def test_a_large_file_downloads_in_slices(client, user, database_url, context, registry):
    schedule = create(client, user, delivery_method="download", export_type="leads").get_json()
    run_at = last_monday(database_url)
    make_due(database_url, schedule["id"], run_at)
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.leads (user_id, email, created_at) select %s, 'lead-' || n || '-'"
                     " || repeat('x', 200) || '@x.test', %s - make_interval(secs => n)"
                     " from generate_series(1, 8000) as n", [user.id, run_at])
    queue_due_runs(context)
    assert drain(context, registry) == [None]
    [listed] = client.get("/api/export/files", headers=user.headers).get_json()["files"]
    assert listed["byte_size"] > 1024 * 1024  # more than one slice
    body = client.get(f"/api/export/files/{listed['id']}", headers=user.headers).get_data()
    rows = csv_rows(body)
    assert len(body) == listed["byte_size"] and len(rows) == 8001 and rows[1][1].startswith("lead-1-")


def test_expired_files_are_gone_and_pruned(client, user, database_url, context, registry):
    schedule = create(client, user, delivery_method="download").get_json()
    make_due(database_url, schedule["id"], last_monday(database_url))
    queue_due_runs(context)
    drain(context, registry)
    [listed] = client.get("/api/export/files", headers=user.headers).get_json()["files"]
    sql(database_url, "update public.export_files set expires_at = now() - interval '1 second'")
    assert client.get(f"/api/export/files/{listed['id']}", headers=user.headers).status_code == 404
    registry.periodic_jobs["exports.prune_files"].run(context)
    assert sql(database_url, "select count(*) from public.export_files")[0][0] == 0


# -- what a user can always do, and what needs a sender (issue 15) ---------------------------------

def disconnect_resend(db: Database, user_id: str) -> None:
    with db.as_service() as conn:
        records.mark_disconnected(conn, user_id, "resend", delete_credentials=True)


def test_an_email_schedule_needs_a_sender_when_made_or_changed(client, user, db, database_url):
    disconnect_resend(db, user.id)
    refused = create(client, user)
    assert refused.status_code == 409 and refused.get_json()["error"] == "no_email_sender"
    assert "connect Resend" in refused.get_json()["message"]
    assert create(client, user, enabled=False).status_code == 201  # switched off: nothing to send yet
    download = create(client, user, delivery_method="download", delivery_email=None).get_json()
    to_email = client.patch(f"/api/export/schedules/{download['id']}", json={"delivery_method": "email",
                            "delivery_email": "owner@shop.example.com"}, headers=user.headers)
    assert to_email.status_code == 409 and to_email.get_json()["error"] == "no_email_sender"
    connect_resend(db, user.id, from_email=None)  # connected, but no sender address anywhere
    no_sender = create(client, user)
    assert no_sender.status_code == 409 and "HAVEN_EXPORT_EMAIL_FROM" in no_sender.get_json()["message"]
    assert sql(database_url, "select count(*) from public.scheduled_exports")[0][0] == 2


def test_a_schedule_can_always_be_switched_off_and_deleted(client, user, db, database_url):
    stale = create(client, user, export_type="pins", field_selection=["title", "board_name"]).get_json()
    # The type lost a field since (a catalog change), and Resend was disconnected: the schedule no
    # longer validates and could not be sent.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("alter table public.scheduled_exports disable trigger scheduled_exports_check_fields")
        conn.execute("update public.scheduled_exports set field_selection = '{title,gone}' where id = %s",
                     [stale["id"]])
        conn.execute("alter table public.scheduled_exports enable trigger scheduled_exports_check_fields")
    disconnect_resend(db, user.id)
    path = f"/api/export/schedules/{stale['id']}"
    off = client.patch(path, json={"enabled": False}, headers=user.headers)
    assert off.status_code == 200, off.get_json()
    assert off.get_json()["enabled"] is False and off.get_json()["field_selection"] == ["title", "gone"]
    back_on = client.patch(path, json={"enabled": True}, headers=user.headers)
    assert back_on.status_code == 409 and "unknown field(s) for pins: gone" in back_on.get_json()["message"]
    assert client.delete(path, headers=user.headers).status_code == 204


def test_a_run_over_the_row_cap_fails_with_advice_a_schedule_can_follow(client, user, database_url, db,
                                                                        worker_settings, registry, resend):
    context = worker_context(replace(worker_settings, export_max_records=1), db)
    schedule = create(client, user, frequency="monthly", delivery_method="download").get_json()
    run_at = sql(database_url, "select public.first_export_run_at('monthly') - interval '1 month'")[0][0]
    make_due(database_url, schedule["id"], run_at)
    seed_orders(database_url, user.id, run_at)
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "date_range_type last_week and a weekly frequency" in failure
    assert "limit" not in failure.replace("limit_", "")  # nothing a schedule cannot do
    [run] = export_history(database_url, schedule["id"])
    assert run["status"] == "failed" and "last_week" in run["error"]


def test_identical_files_are_stored_once_and_each_downloads(client, user, database_url, context, registry):
    ids = [create(client, user, delivery_method="download", field_selection=ORDER_FIELDS).get_json()["id"]
           for _ in range(3)]
    run_at = last_monday(database_url)
    seed_orders(database_url, user.id, run_at)
    for schedule_id in ids:
        make_due(database_url, schedule_id, run_at)
    assert queue_due_runs(context) == 3
    assert drain(context, registry) == [None, None, None]
    files = client.get("/api/export/files", headers=user.headers).get_json()["files"]
    assert sorted(f["scheduled_export_id"] for f in files) == sorted(ids)
    assert sql(database_url, "select count(*), sum(byte_size) from public.export_file_contents")[0] == (
        1, files[0]["byte_size"])
    bodies = {client.get(f"/api/export/files/{f['id']}", headers=user.headers).get_data() for f in files}
    assert len(bodies) == 1 and csv_rows(bodies.pop())[1:] == [["in-1", "a@x.test", "10.00"],
                                                               ["in-2", "'=cmd", "-2.50"]]
    sql(database_url, "update public.export_files set expires_at = now() - interval '1 second'"
                      " where export_history_id = (select id from public.export_history order by created_at limit 1)")
    registry.periodic_jobs["exports.prune_files"].run(context)
    assert len(client.get("/api/export/files", headers=user.headers).get_json()["files"]) == 2
    assert sql(database_url, "select count(*) from public.export_file_contents")[0][0] == 1  # still named


def test_a_run_past_the_stored_bytes_cap_fails_for_good_naming_it(client, user, database_url, db, worker_settings,
                                                                   registry):
    context = worker_context(replace(worker_settings, export_stored_bytes_per_user=100), db)
    schedule = create(client, user, delivery_method="download", export_type="leads").get_json()
    run_at = last_monday(database_url)
    make_due(database_url, schedule["id"], run_at)
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.leads (user_id, email, created_at) select %s, 'lead-' || n || '@x.test',"
                     " %s - make_interval(secs => n) from generate_series(1, 20) as n", [user.id, run_at])
    queue_due_runs(context)
    [failure] = drain(context, registry)
    assert failure is not None and "export_stored_bytes_per_user" in failure and "cap of 100 bytes" in failure
    assert queue_items(database_url)[0][0] == "failed"
    [run] = export_history(database_url, schedule["id"])
    assert run["status"] == "failed" and "export_stored_bytes_per_user" in run["error"]
    assert sql(database_url, "select count(*) from public.export_files")[0][0] == 0
