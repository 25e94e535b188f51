"""The worker's life cycle in-process: handlers that succeed, fail twice then succeed, fail for
good; permanent errors, unknown operations, retry_now through the API, a graceful stop."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from service import providers
from service.errors import PermanentError, ProviderRejected
from service.queue.registry import Job, Registry
from service.queue.worker import Worker, WorkerOptions, error_text

from .support.db import sql
from .support.flow import registry_for
from .support.queue import enqueue, wait_until


class Recorder:
    """Test handlers that remember what they were given."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.calls: list[tuple[str, str, dict, int]] = []
        self.lock = threading.Lock()

    def record(self, job: Job) -> None:
        with self.lock:
            self.calls.append((job.operation_type, job.user_id, dict(job.payload), job.attempt))

    def succeed(self, job: Job) -> None:
        self.record(job)

    def fail_twice_then_succeed(self, job: Job) -> None:
        self.record(job)
        if job.attempt <= 2:
            raise ConnectionError(f"provider answered 503 on attempt {job.attempt}")

    def fail_forever(self, job: Job) -> None:
        self.record(job)
        raise RuntimeError("GET https://api.example.test/v5/boards?access_token=SECRET-TOKEN failed: 500")

    def refuse(self, job: Job) -> None:
        self.record(job)
        raise PermanentError("shop domain is not a myshopify.com domain")

    def rejected_by_provider(self, job: Job) -> None:
        self.record(job)
        raise ProviderRejected("pinterest", "POST /pins refused (400)", status=400)

    def bad_payload(self, job: Job) -> None:
        self.record(job)
        with psycopg.connect(self.database_url) as conn:
            conn.execute("select 'not-a-uuid'::uuid")  # 22P02: the payload's fault, for good


@pytest.fixture
def recorder(database_url: str) -> Recorder:
    return Recorder(database_url)


@pytest.fixture
def worker(settings, database_url, recorder) -> Iterator[Worker]:  # type: ignore[no-untyped-def]
    fast = replace(settings, queue_backoff_base_seconds=0.01, queue_backoff_cap_seconds=0.05)
    registry: Registry = registry_for(fast)
    registry.handler("test.succeed", recorder.succeed)
    registry.handler("test.flaky", recorder.fail_twice_then_succeed)
    registry.handler("test.forever", recorder.fail_forever)
    registry.handler("test.refuse", recorder.refuse)
    registry.handler("test.rejected", recorder.rejected_by_provider)
    registry.handler("test.bad_payload", recorder.bad_payload)
    running = Worker(fast, registry, providers.catalog(), database_url,
                     WorkerOptions(concurrency=4, batch=10, poll_seconds=0.05, heartbeat_seconds=0.2))
    thread = threading.Thread(target=running.run, name="test-worker")
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the worker did not stop"


def states(database_url: str, ids: list[str]) -> dict[str, tuple]:
    rows = sql(database_url, "select id::text, status, attempts, max_attempts, last_error"
                               " from public.retry_queue where id = any(%s::uuid[])", [ids])
    return {row[0]: row[1:] for row in rows}


def attempt_history(database_url: str, item_id: str) -> list[tuple]:
    return sql(database_url, "select attempt, outcome, error from public.retry_attempts"
                               " where item_id = %s order by attempt", [item_id])


def settled(database_url: str, ids: list[str]) -> bool:
    return all(state[0] in ("resolved", "failed") for state in states(database_url, ids).values())


def test_full_life_cycle_through_the_worker(worker, database_url, user, client, recorder):  # type: ignore[no-untyped-def]
    [ok] = enqueue(database_url, user.id, "test.succeed", '{"board": "quotes"}')
    [flaky] = enqueue(database_url, user.id, "test.flaky", '{"n": 1}')
    [forever] = enqueue(database_url, user.id, "test.forever", max_attempts=3)
    [refused] = enqueue(database_url, user.id, "test.refuse")
    [unknown] = enqueue(database_url, user.id, "no.such.operation")
    [rejected] = enqueue(database_url, user.id, "test.rejected")
    [bad_payload] = enqueue(database_url, user.id, "test.bad_payload")
    ids = [ok, flaky, forever, refused, unknown, rejected, bad_payload]
    wait_until(lambda: settled(database_url, ids), what="every item to settle")

    final = states(database_url, ids)
    assert final[ok] == ("resolved", 1, 5, None)
    assert final[flaky][:3] == ("resolved", 3, 5)
    assert [row[1] for row in attempt_history(database_url, flaky)] == ["failed", "failed", "succeeded"]
    assert attempt_history(database_url, flaky)[0][2] == "ConnectionError: provider answered 503 on attempt 1"

    assert final[forever][:3] == ("failed", 3, 3)
    assert "SECRET-TOKEN" not in final[forever][3], "a query string (a token) leaked into the error"
    assert final[forever][3].startswith("RuntimeError: GET https://api.example.test/v5/boards?")
    assert [row[1] for row in attempt_history(database_url, forever)] == ["failed"] * 3

    assert final[refused] == ("failed", 1, 5, "shop domain is not a myshopify.com domain")
    assert final[unknown] == ("failed", 1, 5, "no handler for operation_type 'no.such.operation'")
    # One retry decision (service.errors.retryable): a provider's refusal and input the database
    # cannot take fail at their first attempt, like a PermanentError.
    assert final[rejected] == ("failed", 1, 5, "pinterest: POST /pins refused (400)")
    assert final[bad_payload][:2] == ("failed", 1)
    assert final[bad_payload][3].startswith("InvalidTextRepresentation: ")

    # Handlers got their own item's user and payload.
    assert ("test.succeed", user.id, {"board": "quotes"}, 1) in recorder.calls
    assert [call[3] for call in recorder.calls if call[0] == "test.flaky"] == [1, 2, 3]

    # The user retries the exhausted item: exactly one more attempt, which fails again.
    response = client.post(f"/api/errors/{forever}/retry", headers=user.headers)
    assert response.status_code == 200, response.json
    assert response.json["item"]["status"] == "pending"
    assert response.json["item"]["max_attempts"] == 4
    wait_until(lambda: states(database_url, [forever])[forever][:2] == ("failed", 4), what="the extra attempt")
    assert len(attempt_history(database_url, forever)) == 4


def test_error_text_never_carries_query_strings() -> None:
    text = error_text(ValueError("POST https://x.test/token?client_secret=abc&code=def failed"))
    assert text == "ValueError: POST https://x.test/token?… failed"
    assert len(error_text(RuntimeError("x" * 10_000))) == 2000


def test_registry_refuses_two_handlers_for_one_operation(settings) -> None:  # type: ignore[no-untyped-def]
    registry = registry_for(settings)
    with pytest.raises(ValueError, match="two handlers"):
        registry.handler("noop", lambda job: None)
