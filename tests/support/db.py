"""Reading and writing the test database directly, outside the service."""
from __future__ import annotations

from typing import Any

import psycopg


def sql(url: str, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Runs one statement in autocommit as the URL's role (`postgres`, as migrations and the service:
    no superuser, Supabase's grants); its rows ([] for none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []
