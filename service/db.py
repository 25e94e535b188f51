"""Database access: one pool per app, and the two kinds of transaction the service runs.

`as_user(claims)` does what PostgREST does for a request carrying the user's JWT, so Row Level
Security, not Python, draws the tenant boundary. `as_service()` runs as `service_role` for work
with no user behind it (webhooks, OAuth callbacks, the worker) — never as the connection's own
owner role, so missing grants fail here as they would on Supabase.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .config import Settings
from .localdb import LocalCluster


def _as_service_role(conn: psycopg.Connection[Any]) -> None:
    conn.execute("set role service_role")
    conn.execute("select set_config('request.jwt.claims', %s, false)", [json.dumps({"role": "service_role"})])


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the embedded cluster under the state dir."""
    if settings.database_url:
        return settings.database_url
    return LocalCluster(settings.state_dir / "pg").url()


class Database:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, check_connections: bool = False) -> None:
        """`check_connections`: test each pooled connection before handing it out (one round trip),
        so a connection the server dropped (a restart) is replaced, not used and failed. The
        worker wants it: a failure there costs an item one of its attempts."""
        self.url = url
        # Opening does not wait for a connection, so creating the app never blocks on the database.
        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=True,
            kwargs={"row_factory": dict_row, "autocommit": False}, name="haven",
            check=ConnectionPool.check_connection if check_connections else None,
        )
        self._single_statement_pool: ConnectionPool | None = None
        self._single_statement_lock = threading.Lock()

    def close(self) -> None:
        self.pool.close()
        if self._single_statement_pool is not None:
            self._single_statement_pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def as_user(self, claims: Mapping[str, Any], *, isolation: psycopg.IsolationLevel | None = None,
                ) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """One transaction as `authenticated` with the caller's claims, as PostgREST runs it.

        `isolation` (e.g. REPEATABLE READ, so several statements read one snapshot) applies to
        this transaction only; the pooled connection goes back with the server's default.
        """
        with self.connection() as conn:
            conn.isolation_level = isolation
            try:
                with conn.transaction():
                    conn.execute(
                        "select set_config('role', 'authenticated', true),"
                        " set_config('request.jwt.claims', %s, true)",
                        [json.dumps(dict(claims))],
                    )
                    yield conn
            finally:
                if not conn.closed:
                    conn.isolation_level = None

    @contextmanager
    def as_service(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """One transaction as `service_role` (bypasses RLS; holds only the grants it was given)."""
        with self.connection() as conn, conn.transaction():
            conn.execute(
                "select set_config('role', 'service_role', true),"
                " set_config('request.jwt.claims', %s, true)",
                [json.dumps({"role": "service_role"})],
            )
            yield conn

    def call_as_service(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        """One statement, atomic on its own, as `service_role`, in one round trip.

        For hot paths (the webhook receiver), and for writes made while holding a connection of
        the main pool (an export's history), which must not wait on that same pool. Its
        connections come from a small pool of their own, switched to `service_role` once when
        opened and used in autocommit, so a call is one statement and no BEGIN, SET or COMMIT
        round trips. Returns the first row (None for a statement that returns none).
        """
        if self._single_statement_pool is None:
            with self._single_statement_lock:
                if self._single_statement_pool is None:
                    self._single_statement_pool = ConnectionPool(
                        self.url, min_size=1, max_size=self.pool.max_size, open=True,
                        kwargs={"row_factory": dict_row, "autocommit": True},
                        configure=_as_service_role, name="haven-service-calls",
                    )
        with self._single_statement_pool.connection() as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchone() if cursor.description is not None else None

    def ping(self, timeout_seconds: int = 2) -> bool:
        """Whether the database takes a new connection and runs a statement on it.

        A new connection, not a pooled one: pooled connections outlive what breaks new ones (a
        full server, a password changed, a server package upgraded under the running cluster,
        where new backends cannot load plpgsql.so). The DO block loads plpgsql in that backend;
        every function of ours needs it.
        """
        try:
            with psycopg.connect(self.url, connect_timeout=max(timeout_seconds, 2), autocommit=True) as conn:
                conn.execute("select set_config('statement_timeout', %s, false)", [f"{timeout_seconds}s"])
                conn.execute("do $$ begin perform 1; end $$")
            return True
        except psycopg.Error:
            return False
