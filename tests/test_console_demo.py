"""The demo data `make run` loads on the local stack (supabase/seed.sql): re-runnable, and enough
for every console page to show something."""
from __future__ import annotations

from service.migrate import load_seed

from .support.console import sign_in_locally
from .support.db import sql


def test_the_seed_loads_twice_and_fills_every_page(client, database_url):
    assert load_seed(database_url) and load_seed(database_url)
    demo = "a0000000-0000-4000-8000-000000000001"
    counts = sql(database_url, """
        select (select count(*) from public.customers where user_id = %(u)s),
               (select count(*) from public.customer_orders where user_id = %(u)s),
               (select count(*) from public.pinterest_boards where user_id = %(u)s),
               (select count(*) from public.pins where user_id = %(u)s),
               (select count(*) from public.retry_queue where user_id = %(u)s and status = 'failed'),
               (select count(*) from public.retry_queue where user_id = %(u)s and status = 'pending'),
               (select count(*) from public.scheduled_exports where user_id = %(u)s)""", {"u": demo})
    assert counts == [(12, 24, 2, 6, 2, 1, 1)]
    sign_in_locally(client, "demo@haven.local")
    failed = client.get("/console/failed").get_data(as_text=True)
    assert "shopify: 503 from the Admin API" in failed and "pinterest.sync_boards" in failed
    data = client.get("/console/data").get_data(as_text=True)
    assert "stored file" in data  # the weekly schedule
    export = client.get("/console/data/export?type=orders&fields=shopify_order_id&preset=365&format=csv")
    assert export.status_code == 200 and export.headers["X-Record-Count"] == "24"
    # Read to the end: the stream holds its transaction until it is.
    assert len(export.get_data(as_text=True).splitlines()) == 25
