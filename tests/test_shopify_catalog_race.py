"""A products/delete processed while an import is writing the same product (46_shopify_catalog.sql,
lock_shopify_catalog): the delete waits for the import's transaction, then deletes what it wrote,
and nothing brings the product back. Without the lock the delete found nothing to delete (the
import's row was not committed yet) and the product reappeared at the import's commit. The
waiting side is observed in pg_locks before the other commits (no sleeps)."""
from __future__ import annotations

import json

import psycopg

from .support.db import in_background, service_connection
from .support.queue import wait_for_a_lock_waiter

SHOP = "race.myshopify.com"
PRODUCT_ID = "632910392"


def _import_product(conn: psycopg.Connection, user_id: str) -> None:
    """The import's products load, as the service runs it: a staged result, then the SQL."""
    conn.execute("select public.create_shopify_bulk_stage('products')")
    conn.execute("insert into pg_temp.shopify_bulk_stage (gid, title, status, updated_at) values"
                 " (%s, 'Quote print', 'ACTIVE', '2026-11-01T00:00:00Z')", [f"gid://shopify/Product/{PRODUCT_ID}"])
    conn.execute("select public.import_shopify_bulk_stage(%s, %s, 'products')", [user_id, SHOP])


def test_a_delete_during_the_imports_write_waits_and_wins(database_url, user):
    importer = service_connection(database_url)
    _import_product(importer, user.id)  # written, not committed: holds the catalog lock
    outcome: list[str] = []

    def delete() -> None:
        with service_connection(database_url) as conn:
            outcome.append(conn.execute(
                "select public.apply_shopify_catalog_webhook(%s, %s, 'products/delete', %s)",
                [user.id, SHOP, json.dumps({"id": int(PRODUCT_ID)})]).fetchone()[0])
            conn.commit()

    thread, errors = in_background(delete)
    wait_for_a_lock_waiter(database_url, what="the delete waiting for the import's catalog lock")
    assert outcome == []  # still waiting
    importer.commit()
    importer.close()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert outcome == ["deleted"]  # it saw, and deleted, the row the import committed
    with service_connection(database_url) as conn:
        assert conn.execute("select count(*) from public.shopify_products where user_id = %s",
                            [user.id]).fetchone()[0] == 0
        _import_product(conn, user.id)  # an import that comes later does not bring it back either
        assert conn.execute("select count(*) from public.shopify_products where user_id = %s",
                            [user.id]).fetchone()[0] == 0
