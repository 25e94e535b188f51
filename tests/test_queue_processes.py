"""Workers as separate `haven worker` processes on one queue: exactly once under concurrency,
rescue after SIGKILL, and a graceful stop on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .support.db import sql
from .support.queue import enqueue, listening_workers, start_worker, wait_until

ITEMS = 3000
GATE = 7_000_001  # the advisory lock test.block handlers wait for


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def logs(tmp_path: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("worker-*.log")))


@pytest.fixture
def gate(database_url: str) -> Iterator[psycopg.Connection]:
    """Held: test.block handlers wait. Closing (or unlocking) it lets them finish."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", [GATE])
        yield conn


def blocked_handlers(database_url: str) -> int:
    return sql(database_url, "select count(*) from pg_locks where locktype = 'advisory' and not granted"
                               " and objid = %s", [GATE])[0][0]


def resolved_count(database_url: str) -> int:
    return sql(database_url, "select count(*) from public.retry_queue where status = 'resolved'")[0][0]


def test_several_worker_processes_complete_each_item_exactly_once(database_url, user, workers, tmp_path):  # type: ignore[no-untyped-def]
    for n in range(3):
        workers.append(start_worker(database_url, tmp_path / f"worker-{n}.log",
                                    "--concurrency", "8", "--batch", "8", "--poll-interval", "0.5"))
    wait_until(lambda: listening_workers(database_url) == 3, what="three listening workers")
    enqueue(database_url, user.id, "noop", count=ITEMS)

    wait_until(lambda: resolved_count(database_url) == ITEMS, timeout=120, what=f"{ITEMS} resolved items")
    assert sql(database_url, "select status, attempts, count(*) from public.retry_queue group by 1, 2") == [
        ("resolved", 1, ITEMS)]
    assert sql(database_url, "select outcome, count(*), count(distinct item_id) from public.retry_attempts"
                               " group by 1") == [("succeeded", ITEMS, ITEMS)]
    shares = sql(database_url, "select worker_id, count(*) from public.retry_attempts group by 1")
    assert len(shares) >= 2, f"one worker did everything: {shares}"

    for process in workers:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=30) for process in workers] == [0, 0, 0], logs(tmp_path)


def test_a_killed_workers_items_are_rescued_and_finished_by_another(database_url, user, workers, tmp_path,  # type: ignore[no-untyped-def]
                                                                  gate):
    ids = enqueue(database_url, user.id, "test.block", f'{{"lock": {GATE}}}', count=3)
    # Every worker of a fleet shares these settings: a short rescue timeout, quick heartbeats.
    fast = {"HAVEN_WORKER_HEARTBEAT_SECONDS": "0.2", "HAVEN_QUEUE_RESCUE_TIMEOUT_SECONDS": "1",
            "HAVEN_QUEUE_RESCUE_EVERY_SECONDS": "0.5", "HAVEN_QUEUE_BACKOFF_BASE_SECONDS": "0.1",
            "HAVEN_QUEUE_BACKOFF_CAP_SECONDS": "0.2"}
    doomed = start_worker(database_url, tmp_path / "worker-doomed.log", "--concurrency", "3",
                          "--poll-interval", "0.2", **fast)
    workers.append(doomed)
    wait_until(lambda: blocked_handlers(database_url) == 3, what="the first worker to start all three")
    holder = sql(database_url, "select distinct worker_id from public.retry_queue where status = 'processing'")
    assert len(holder) == 1

    doomed.kill()  # SIGKILL: no chance to finish, release or say goodbye
    doomed.wait(timeout=30)
    gate.execute("select pg_advisory_unlock(%s)", [GATE])
    rescuer = start_worker(database_url, tmp_path / "worker-rescuer.log", "--concurrency", "3",
                           "--poll-interval", "0.2", **fast)
    workers.append(rescuer)

    wait_until(lambda: resolved_count(database_url) == 3, what="the rescued items to finish", timeout=60)
    assert sql(database_url, "select attempts, count(*) from public.retry_queue group by 1") == [(2, 3)]
    history = sql(database_url, "select item_id::text, array_agg(outcome order by attempt),"
                                  " bool_and(error is null or error like 'worker lost: %%')"
                                  " from public.retry_attempts group by 1")
    assert sorted(row[0] for row in history) == sorted(ids)
    assert {tuple(row[1]) for row in history} == {("lost", "succeeded")}
    assert all(row[2] for row in history)

    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(timeout=30) == 0, logs(tmp_path)


def test_sigterm_finishes_the_item_in_hand_then_exits_zero(database_url, user, workers, tmp_path, gate):  # type: ignore[no-untyped-def]
    [item] = enqueue(database_url, user.id, "test.block", f'{{"lock": {GATE}}}')
    worker = start_worker(database_url, tmp_path / "worker-0.log", "--concurrency", "2", "--poll-interval", "0.2")
    workers.append(worker)
    wait_until(lambda: blocked_handlers(database_url) == 1, what="the handler to start")

    worker.send_signal(signal.SIGTERM)
    wait_until(lambda: "finishing in-flight items" in logs(tmp_path), what="the worker to acknowledge SIGTERM")
    enqueue(database_url, user.id, "noop")  # a free thread, but a stopping worker claims nothing more
    assert worker.poll() is None, "the worker left before its item finished"
    gate.execute("select pg_advisory_unlock(%s)", [GATE])
    assert worker.wait(timeout=30) == 0, logs(tmp_path)
    assert sql(database_url, "select status, attempts from public.retry_queue where id = %s", [item]) == [
        ("resolved", 1)]
    assert sql(database_url, "select count(*) from public.retry_queue where operation_type = 'noop'"
                               " and status = 'pending' and attempts = 0") == [(1,)]


def test_a_running_worker_says_it_is_alive_and_a_stopped_one_says_it_has_gone(database_url, tmp_path, workers):
    worker = start_worker(database_url, tmp_path / "worker-alive.log")
    workers.append(worker)
    wait_until(lambda: sql(database_url, "select count(*) from public.queue_workers") == [(1,)],
               what="the idle worker's first heartbeat")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert sql(database_url, "select count(*) from public.queue_workers") == [(0,)]


def test_sigkill_mid_batch_completes_every_item_exactly_once_with_a_complete_history(  # type: ignore[no-untyped-def]
        database_url, user, workers, tmp_path, gate):
    fast = {"HAVEN_WORKER_HEARTBEAT_SECONDS": "0.2", "HAVEN_QUEUE_RESCUE_TIMEOUT_SECONDS": "1",
            "HAVEN_QUEUE_RESCUE_EVERY_SECONDS": "0.5", "HAVEN_QUEUE_BACKOFF_BASE_SECONDS": "0.1",
            "HAVEN_QUEUE_BACKOFF_CAP_SECONDS": "0.2"}
    held = enqueue(database_url, user.id, "test.block", f'{{"lock": {GATE}}}', count=4)
    doomed = start_worker(database_url, tmp_path / "worker-doomed.log", "--concurrency", "16", "--batch", "16",
                          "--poll-interval", "0.2", **fast)
    workers.append(doomed)
    wait_until(lambda: blocked_handlers(database_url) == 4, what="the worker to hold four items")
    [(doomed_id,)] = sql(database_url, "select distinct worker_id from public.retry_queue where status = 'processing'")
    enqueue(database_url, user.id, "noop", count=ITEMS)
    # Killed while it drains the batches of quick items, four items still in hand.
    wait_until(lambda: resolved_count(database_url) >= ITEMS // 10, what="the worker to be draining")
    doomed.kill()
    doomed.wait(timeout=30)
    assert sql(database_url, "select count(*) from public.retry_queue where status = 'processing'")[0][0] >= 4

    gate.execute("select pg_advisory_unlock(%s)", [GATE])
    rescuer = start_worker(database_url, tmp_path / "worker-rescuer.log", "--concurrency", "16", "--batch", "16",
                           "--poll-interval", "0.2", **fast)
    workers.append(rescuer)
    wait_until(lambda: resolved_count(database_url) == ITEMS + 4, timeout=120, what="every item to be resolved")

    # Exactly once: each item has one succeeded attempt, after one lost attempt per time its
    # worker died holding it; every attempt it counted is in the history, once.
    history = sql(database_url, "select q.id::text, q.attempts, array_agg(a.attempt order by a.attempt),"
                                  " array_agg(a.outcome order by a.attempt),"
                                  " array_agg(a.worker_id order by a.attempt)"
                                  " from public.retry_queue as q left join public.retry_attempts as a on a.item_id = q.id"
                                  " group by q.id, q.attempts")
    assert len(history) == ITEMS + 4
    for _item, attempts, numbers, outcomes, by in history:
        assert numbers == list(range(1, attempts + 1))
        assert outcomes == ["lost"] * (attempts - 1) + ["succeeded"]
        lost_by, succeeded_by = by[:-1], by[-1]
        assert all(worker == doomed_id for worker in lost_by)  # written by the rescue, naming the dead
        assert not lost_by or succeeded_by != doomed_id
    held_history = {row[0]: row[3] for row in history if row[0] in held}
    assert held_history == {item: ["lost", "succeeded"] for item in held}
    assert sql(database_url, "select count(*) from public.retry_attempts where outcome = 'lost'"
                               " and (worker_id <> %s or error not like 'worker lost: %%')", [doomed_id]) == [(0,)]

    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(timeout=30) == 0, logs(tmp_path)
