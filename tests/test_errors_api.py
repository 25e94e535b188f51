"""GET /api/errors and POST /api/errors/<id>/retry, as the calling user."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from .support.queue import enqueue


def set_state(database_url: str, item_id: str, status: str, attempts: int = 1) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "update public.retry_queue set status = %s, attempts = %s, max_attempts = greatest(max_attempts, %s),"
            " worker_id = 'w', claimed_at = now(), heartbeat_at = now(),"
            " resolved_at = case when %s = 'resolved' then now() end where id = %s",
            [status, attempts, attempts, status, item_id],
        )


@pytest.fixture
def items(database_url, user):  # type: ignore[no-untyped-def]
    ids = enqueue(database_url, user.id, "noop", '{"k": "v"}', count=5, max_attempts=2)
    set_state(database_url, ids[0], "failed", attempts=2)
    set_state(database_url, ids[1], "resolved")
    set_state(database_url, ids[2], "processing")
    return ids


def test_lists_the_callers_items_with_counts(client, user, make_user, items, database_url):  # type: ignore[no-untyped-def]
    other = make_user()
    enqueue(database_url, other.id, "noop", count=3)
    response = client.get("/api/errors", headers=user.headers)
    assert response.status_code == 200
    body = response.json
    assert body["counts"] == {"pending": 2, "processing": 1, "resolved": 1, "failed": 1}
    assert body["total"] == 5
    assert sorted(item["id"] for item in body["items"]) == sorted(items)
    assert body["items"][0]["payload"] == {"k": "v"}

    failed = client.get("/api/errors?status=failed", headers=user.headers).json
    assert [item["id"] for item in failed["items"]] == [items[0]]
    assert failed["total"] == 1 and failed["items"][0]["attempts"] == 2

    page = client.get("/api/errors?limit=2&offset=4", headers=user.headers).json
    assert len(page["items"]) == 1 and page["total"] == 5


@pytest.mark.parametrize("query", ["status=exploded", "limit=0", "limit=101", "offset=-1", "limit=ten",
                                   "colour=blue"])
def test_refuses_bad_queries(client, user, query):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/errors?{query}", headers=user.headers)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


@pytest.mark.parametrize("offset", ["9223372036854775808", "1000001", "99999999999999999999999999"])
def test_an_offset_past_the_bound_is_a_400_naming_it(client, user, offset):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/errors?offset={offset}", headers=user.headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_request" and response.json["details"][0]["field"] == "offset"


def test_the_deepest_offset_answers_an_empty_page(client, user, items):  # type: ignore[no-untyped-def]
    page = client.get("/api/errors?offset=1000000", headers=user.headers).json
    assert page["items"] == [] and page["total"] == 5


def test_requires_a_signed_in_caller(client):  # type: ignore[no-untyped-def]
    assert client.get("/api/errors").status_code == 401
    assert client.post(f"/api/errors/{uuid.uuid4()}/retry").status_code == 401


def test_retry_makes_a_failed_item_due_with_one_more_attempt(client, user, items):  # type: ignore[no-untyped-def]
    response = client.post(f"/api/errors/{items[0]}/retry", headers=user.headers)
    assert response.status_code == 200
    item = response.json["item"]
    assert (item["id"], item["status"], item["attempts"], item["max_attempts"]) == (items[0], "pending", 2, 3)


def test_retry_of_a_pending_item_makes_it_due(client, user, items):  # type: ignore[no-untyped-def]
    response = client.post(f"/api/errors/{items[3]}/retry", headers=user.headers)
    assert response.status_code == 200 and response.json["item"]["status"] == "pending"


@pytest.mark.parametrize("index", [1, 2], ids=["resolved", "processing"])
def test_retry_of_a_resolved_or_processing_item_is_a_conflict(client, user, items, index):  # type: ignore[no-untyped-def]
    response = client.post(f"/api/errors/{items[index]}/retry", headers=user.headers)
    assert response.status_code == 409
    assert response.json["error"] == "conflict"


def test_retry_of_an_item_that_is_not_the_callers_is_not_found(client, make_user, items, database_url):  # type: ignore[no-untyped-def]
    stranger = make_user()
    response = client.post(f"/api/errors/{items[0]}/retry", headers=stranger.headers)
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select status from public.retry_queue where id = %s", [items[0]]).fetchone() == ("failed",)


@pytest.mark.parametrize("item_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_retry_of_an_unknown_or_malformed_id_is_not_found(client, user, item_id):  # type: ignore[no-untyped-def]
    response = client.post(f"/api/errors/{item_id}/retry", headers=user.headers)
    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_attempts_list_the_finished_ones_then_the_one_in_progress(client, user, database_url):  # type: ignore[no-untyped-def]
    [item] = enqueue(database_url, user.id, "noop", max_attempts=3)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("set role service_role")
        conn.execute("select public.claim_retry_items('w1', 1)")
        conn.execute("select public.fail_retry_item(%s, 'w1', 'HTTP 503')", [item])
        conn.execute("update public.retry_queue set next_retry_at = now() where id = %s", [item])
        conn.execute("select public.claim_retry_items('w2', 1)")
    response = client.get(f"/api/errors/{item}/attempts", headers=user.headers)
    assert response.status_code == 200, response.json
    attempts = [(a["attempt"], a["outcome"], a["error"], a["finished_at"] is None) for a in response.json["attempts"]]
    # The running attempt is no row of retry_attempts (its claim is on the item) but is listed.
    assert attempts == [(1, "failed", "HTTP 503", False), (2, "running", None, True)]
