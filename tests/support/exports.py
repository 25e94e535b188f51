"""Rows to export and the history exports leave."""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def add_orders(database_url: str, user_id: str, count: int) -> None:
    """`count` orders of `user_id`, one a second up to now."""
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.customer_orders (user_id, shopify_order_id, customer_email, total, created_at)"
                     " select %s, g::text, 'b' || g || '@x.test', g, now() - make_interval(secs => %s - g)"
                     " from generate_series(1, %s) as g", [user_id, count, count])


def export_history(database_url: str, schedule_id: str | None = None) -> list[dict[str, Any]]:
    """Every export_history row (of one schedule), oldest first."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute("select * from public.export_history"
                            " where %(schedule)s::uuid is null or scheduled_export_id = %(schedule)s::uuid"
                            " order by created_at", {"schedule": schedule_id}).fetchall()
