"""Queueing work for the worker: the one caller of `public.queue_for_retry` in Python.

Payloads carry ids, domains and times, never a token or a key: a handler reads what it needs
from the database (and credentials from Vault) when it runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def enqueue(conn: psycopg.Connection[Any], user_id: str, operation_type: str,
            payload: Mapping[str, Any] | None = None, *, reference_id: str | None = None,
            reference_table: str | None = None) -> str:
    """Queues one item in the caller's service transaction (it runs once that commits); its id."""
    row = conn.execute(
        "select public.queue_for_retry(%s, %s, %s, p_reference_id => %s, p_reference_table => %s) as id",
        [user_id, operation_type, Jsonb(dict(payload or {})), reference_id, reference_table]).fetchone()
    assert row is not None
    return str(row["id"])
