"""Reading and writing the test database directly, outside the service."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg


def sql(url: str, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Runs one statement in autocommit as the URL's role (`postgres`, as migrations and the service:
    no superuser, Supabase's grants); its rows ([] for none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def service_connection(url: str) -> psycopg.Connection:
    """A connection acting as the service (`service_role`), in a transaction the caller ends."""
    conn = psycopg.connect(url)
    conn.execute("set role service_role")
    return conn


def in_background(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Runs `work` (the other side of a race) on a thread; its exception, if any, is in the list."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors
