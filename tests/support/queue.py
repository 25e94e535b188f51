"""Helpers for queue tests: enqueue as the service, wait for a database condition, run workers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg

from service.config import PROJECT_ROOT

from .db import sql

T = TypeVar("T")


def enqueue(database_url: str, user_id: str, operation_type: str, payload: str = "{}", *,
            count: int = 1, max_attempts: int = 5) -> list[str]:
    with psycopg.connect(database_url) as conn:
        conn.execute("set local role service_role")
        rows = conn.execute(
            "select public.queue_for_retry(%s, %s, %s::jsonb, p_max_attempts => %s)::text"
            " from generate_series(1, %s)",
            [user_id, operation_type, payload, max_attempts, count],
        ).fetchall()
    return [row[0] for row in rows]


def wait_until(condition: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Polls `condition` until it returns something truthy; fails the test at the deadline.

    The state waited for is in the database, which has no event to wait on: poll it briefly.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def wait_for_a_lock_waiter(database_url: str, *, what: str, timeout: float = 30.0) -> None:
    """Until some session of this database waits on a lock: the moment a race under test is set up."""
    wait_until(lambda: sql(database_url, "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                                           " and datname = current_database()")[0][0] >= 1,
               timeout=timeout, what=what)


def start_worker(database_url: str, log_path: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`haven worker` as its own process, loading the test handler family."""
    environment = {**os.environ, "DATABASE_URL": database_url, "HAVEN_LOG_LEVEL": "INFO", **env}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--family", "tests.support.queue_handlers", *args],
            cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )


def listening_workers(database_url: str) -> int:
    return sql(database_url, "select count(*) from pg_stat_activity where datname = current_database()"
                               " and application_name like 'haven worker %%' and query ilike 'listen%%'")[0][0]
