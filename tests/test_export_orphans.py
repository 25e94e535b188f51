"""An export whose process dies mid-stream is marked failed by the worker's sweep; a live one,
however long it runs, is left alone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import pytest

from service.config import PROJECT_ROOT
from service.exports import orphans

from .support.flow import registry_for, worker_context

from .support.exports import add_orders

# Far more than a pipe holds: the exporting process blocks mid-stream until it is read.
ROWS = 100_000


def sweep(settings, db) -> None:  # type: ignore[no-untyped-def]
    orphans.fail_orphaned_exports(worker_context(settings, db))


def history(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("select id::text, status, error, record_count from public.export_history").fetchall()


@pytest.fixture
def exporting(database_url, user):  # type: ignore[no-untyped-def]
    """`haven export … --out -` for `ROWS` orders, blocked on its full stdout pipe after the header."""
    add_orders(database_url, user.id, ROWS)
    # Unbuffered: `communicate()` reads the pipe's descriptor directly, so anything a buffered
    # `readline()` had read ahead of the header would be lost to the count below.
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "export", "--type", "orders", "--format", "csv", "--out", "-",
         "--user-id", user.id], cwd=PROJECT_ROOT, env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert process.stdout is not None
    assert process.stdout.readline().startswith(b"ID,")  # the history row exists: the stream has begun
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=60)


def test_a_live_export_is_left_alone_and_completes(exporting, database_url, settings, db):  # type: ignore[no-untyped-def]
    sweep(settings, db)
    [(_, status, _, _)] = history(database_url)
    assert status == "streaming"

    body, errors = exporting.communicate(timeout=60)
    assert exporting.returncode == 0, errors
    assert body.count(b"\n") == ROWS  # the header was read before
    sweep(settings, db)
    [(_, status, error, count)] = history(database_url)
    assert (status, error, count) == ("completed", None, ROWS)


def test_an_export_whose_process_died_is_marked_failed(exporting, database_url, settings, db):  # type: ignore[no-untyped-def]
    [(history_id, _, _, _)] = history(database_url)
    exporting.send_signal(signal.SIGKILL)  # no chance to record anything
    exporting.wait(timeout=30)
    # The dead client's backend ends its transaction once it notices: wait for the lock, not a clock.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("set lock_timeout = '60s'")
        conn.execute("select pg_advisory_lock(public.export_stream_lock_key(%s))", [history_id])
        conn.execute("select pg_advisory_unlock(public.export_stream_lock_key(%s))", [history_id])

    sweep(settings, db)
    assert history(database_url) == [(history_id, "failed", "the service stopped before the export finished", None)]


def test_every_worker_runs_the_sweep(settings) -> None:  # type: ignore[no-untyped-def]
    assert "exports.fail_orphans" in registry_for(settings).periodic_jobs
