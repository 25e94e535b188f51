"""What pgTAP cannot show in one session: concurrent claims skip each other's locked rows."""
from __future__ import annotations

import psycopg

from .support.queue import enqueue


def test_concurrent_claims_take_disjoint_rows_without_waiting(database_url, user):  # type: ignore[no-untyped-def]
    ids = set(enqueue(database_url, user.id, "noop", count=10))
    with psycopg.connect(database_url) as first, psycopg.connect(database_url, autocommit=True) as second:
        first.execute("set local role service_role")
        held = {row[0] for row in first.execute("select id::text from public.claim_retry_items('a', 4)")}
        # The first claim is not committed: its rows are locked. The second must skip, not wait.
        second.execute("set lock_timeout = '2s'")
        second.execute("set role service_role")
        taken = {row[0] for row in second.execute("select id::text from public.claim_retry_items('b', 10)")}
        assert len(held) == 4 and len(taken) == 6
        assert held | taken == ids and not held & taken
        first.commit()
        assert second.execute("select count(*) from public.claim_retry_items('c', 10)").fetchone() == (0,)
