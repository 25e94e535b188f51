"""The daily rollup under concurrent transactions (supabase/schemas/26_daily_metrics_rollup.sql):
two writers of the same day add up; a recompute waits for a writer in flight and a writer waits
for a recompute in flight, and neither loses nor double counts an order. Each waiting side is
observed in pg_locks before the other commits (no sleeps)."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import psycopg
import pytest

from .support.db import in_background, service_connection

DAY_AT = "2026-11-10T12:00:00Z"


def _order(conn: psycopg.Connection, user_id: str, number: int, total: str) -> None:
    conn.execute("insert into public.customer_orders (user_id, shopify_order_id, total, status, created_at)"
                 " values (%s, %s, %s, 'paid', %s)", [user_id, str(number), total, DAY_AT])


def _figures(url: str, user_id: str) -> tuple[Decimal, int] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("select revenue, orders from public.daily_metrics where user_id = %s and date = %s",
                           [user_id, DAY_AT[:10]]).fetchone()
    return None if row is None else (row[0], row[1])


def _wait_until_blocked(url: str, pid_holder: list[int], thread: threading.Thread) -> None:
    """Returns once the background connection waits for a lock (pg_locks), failing after 60 s."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            assert thread.is_alive(), "the background transaction finished without waiting"
            if pid_holder and watcher.execute("select exists (select from pg_catalog.pg_locks"
                                              " where pid = %s and not granted)", [pid_holder[0]]).fetchone()[0]:
                return
    pytest.fail("the background transaction never waited for the lock")


def test_two_writers_of_the_same_day_add_up(database_url, user):
    first = service_connection(database_url)
    _order(first, user.id, 1, "10.00")  # the day's row is created and locked until commit
    pid: list[int] = []

    def second() -> None:
        with service_connection(database_url) as conn:
            pid.append(conn.info.backend_pid)
            _order(conn, user.id, 2, "5.00")
            conn.commit()

    thread, errors = in_background(second)
    _wait_until_blocked(database_url, pid, thread)
    first.commit()
    first.close()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert _figures(database_url, user.id) == (Decimal("15.00"), 2)


def test_a_recompute_waits_for_a_writer_in_flight(database_url, user):
    writer = service_connection(database_url)
    _order(writer, user.id, 1, "10.00")  # holds the user's rollup lock (shared) until commit
    pid: list[int] = []

    def recompute() -> None:
        with service_connection(database_url) as conn:
            pid.append(conn.info.backend_pid)
            conn.execute("select public.recompute_daily_metrics(%s)", [user.id])
            conn.commit()

    thread, errors = in_background(recompute)
    _wait_until_blocked(database_url, pid, thread)
    writer.commit()
    writer.close()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    # The recompute saw the order once it was committed, and the writer's own addition is not
    # counted again on top of it.
    assert _figures(database_url, user.id) == (Decimal("10.00"), 1)


def test_a_writer_waits_for_a_recompute_in_flight(database_url, user):
    with service_connection(database_url) as conn:
        _order(conn, user.id, 1, "10.00")
        conn.commit()
    recompute = service_connection(database_url)
    recompute.execute("select public.recompute_daily_metrics(%s)", [user.id])  # holds the lock exclusively
    pid: list[int] = []

    def writer() -> None:
        with service_connection(database_url) as conn:
            pid.append(conn.info.backend_pid)
            _order(conn, user.id, 2, "5.00")
            conn.commit()

    thread, errors = in_background(writer)
    _wait_until_blocked(database_url, pid, thread)
    recompute.commit()
    recompute.close()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert _figures(database_url, user.id) == (Decimal("15.00"), 2)
    with service_connection(database_url) as conn:
        conn.execute("select public.recompute_daily_metrics(%s)", [user.id])
        conn.commit()
    assert _figures(database_url, user.id) == (Decimal("15.00"), 2)
