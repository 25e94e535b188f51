"""The initial import through Shopify Bulk Operations, against the fake: thousands of orders,
a webhook racing the import, failed/canceled/expired/partial operations, a re-import that changes
nothing, the polling fallback, one operation at a time on older API versions, shop/redact."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from service.app import create_app
from service.providers.shopify.imports import poll_imports

from .support.db import sql
from .support.flow import run_queued, worker_context
from .support.shopify import SHOP, deliver
from .support.shopify_import import finish_and_deliver, gid, make_shop_data, order, run_import, start, status

ORDERS, CUSTOMERS = 3000, 400


@pytest.fixture
def shop_data(fake, connected, shop_settings, db):  # type: ignore[no-untyped-def]
    make_shop_data(fake.shops[SHOP], orders=ORDERS, customers=CUSTOMERS)
    run_queued(shop_settings, db)  # webhook registration, as after connecting
    return fake.shops[SHOP]


def table_state(url: str) -> dict[str, list]:
    """Every imported row with its xmin: a rewrite shows even when the values are the same."""
    tables = {"customer_orders": "shopify_order_id", "customers": "shopify_customer_id",
              "shopify_products": "shopify_product_id", "shopify_product_variants": "shopify_variant_id",
              "shopify_collections": "shopify_collection_id"}
    state = {t: sql(url, f"select {key}, xmin::text, updated_at from public.{t} order by 1") for t, key in tables.items()}
    state["shopify_collection_products"] = sql(
        url, "select shopify_collection_id, shopify_product_id, xmin::text from public.shopify_collection_products"
             " order by 1, 2")
    return state


def test_an_import_of_a_shop_with_thousands_of_orders(shop_client, fake, connected, shop_settings, db, database_url,
                                                      shop_data):
    assert status(shop_client, connected) is None
    latest = run_import(shop_client, fake, connected, shop_settings, db)
    assert latest is not None and latest["status"] == "completed", latest
    assert sorted(op["kind"] for op in latest["operations"]) == ["collections", "customers", "orders", "products"]
    assert all(op["status"] == "loaded" for op in latest["operations"])
    by_kind = {op["kind"]: op for op in latest["operations"]}
    line_items = sum(len(o["lineItems"]) for o in shop_data.orders)
    assert by_kind["orders"]["objects_read"] == ORDERS + line_items  # every JSONL line, children included
    assert by_kind["orders"]["rows_written"] == ORDERS
    assert by_kind["customers"]["rows_written"] == CUSTOMERS
    assert by_kind["products"]["rows_written"] == 20 + 40  # products and variants
    assert by_kind["collections"]["rows_written"] == 2 + 11  # collections and memberships

    assert sql(database_url, "select count(*), count(distinct customer_id), sum(item_count) from public.customer_orders"
                             " where user_id = %s and shop_domain = %s", [connected.id, SHOP]) == \
        [(ORDERS, CUSTOMERS, sum(li["quantity"] for o in shop_data.orders for li in o["lineItems"]))]
    one = sql(database_url, "select total, item_count, coupon_code, attribution_channel, status, customer_email"
                            " from public.customer_orders where shopify_order_id = '700020'")
    assert one == [(Decimal("30.00"), 1 + 2 + 3, "SPRING5", "pinterest", "paid", "buyer20@example.test")]
    totals = sql(database_url, "select email, order_count, total_spent from public.customers"
                               " where shopify_customer_id = '10007'")
    expected = [o for o in shop_data.orders if o["customer"]["id"] == gid("Customer", 10_007)]
    def net(o: dict) -> Decimal:
        return Decimal(o["totalPriceSet"]["shopMoney"]["amount"]) - Decimal(o["totalRefundedSet"]["shopMoney"]["amount"])

    assert any(o["displayFinancialStatus"] == "PARTIALLY_REFUNDED" for o in expected)
    assert totals == [("buyer7@example.test", len(expected), sum(map(net, expected)))]  # spend net of refunds
    # Revenue is net of them too: the analytics rows hold every order's total less its refunds.
    revenue = sql(database_url, "select sum(revenue), sum(orders) from public.daily_metrics where user_id = %s",
                  [connected.id])
    assert revenue == [(sum(map(net, shop_data.orders)), ORDERS)]
    product = sql(database_url, "select title, status, tags, images->0->>'url', (select count(*) from"
                                " public.shopify_product_variants v where v.product_id = p.id)"
                                " from public.shopify_products p where shopify_product_id = '501'")
    assert product == [("Print 1", "active", ["quotes", "t1"], "https://cdn.test/1.png", 2)]
    assert sql(database_url, "select shopify_collection_id, collection_type from public.shopify_collections"
                             " order by 1") == [("1", "smart"), ("2", "custom")]
    # The wizard's import step completed with the import.
    progress = shop_client.get("/api/settings/setup-progress", headers=connected.headers).json
    assert progress["setup_progress"]["import"] == "completed"


def test_a_second_import_changes_nothing(shop_client, fake, connected, shop_settings, db, database_url, shop_data):
    assert run_import(shop_client, fake, connected, shop_settings, db)["status"] == "completed"
    before = table_state(database_url)
    again = run_import(shop_client, fake, connected, shop_settings, db)
    assert again["status"] == "completed" and again["rows_written"] == 0
    assert table_state(database_url) == before


def test_a_newer_webhook_racing_the_import_wins_and_an_older_one_loses(shop_client, fake, connected, shop_settings,
                                                                        db, database_url, shop_data):
    start(shop_client, connected)
    run_queued(shop_settings, db)  # the operations are running at Shopify
    # While they run, the merchant refunds order 5: its webhook is newer than the import's snapshot.
    newer = {"id": 700_005, "email": "buyer5@example.test", "created_at": "2026-11-01T00:00:00Z",
             "updated_at": "2026-11-04T00:00:00Z", "total_price": "99.00", "financial_status": "refunded",
             "customer": {"id": 10_005}}
    assert deliver(shop_client, fake, "orders/updated", newer).json == {"status": "accepted"}
    run_queued(shop_settings, db)
    for _ in range(3):
        finish_and_deliver(shop_client, fake, shop_settings, db)
    assert status(shop_client, connected)["status"] == "completed"
    assert sql(database_url, "select total, status from public.customer_orders where shopify_order_id = '700005'") == \
        [(Decimal("99.00"), "refunded")]
    # An older delivery arriving after the import changes nothing.
    older = dict(newer, id=700_006, updated_at="2026-11-02T00:00:00Z", total_price="1.00")
    deliver(shop_client, fake, "orders/updated", older)
    run_queued(shop_settings, db)
    assert sql(database_url, "select total from public.customer_orders where shopify_order_id = '700006'") == \
        [(Decimal(shop_data.orders[6]["totalPriceSet"]["shopMoney"]["amount"]),)]


@pytest.mark.parametrize("outcome, recorded", [("FAILED", "failed"), ("CANCELED", "canceled"),
                                               ("EXPIRED", "expired"), ("PARTIAL", "partial")])
def test_an_operation_that_does_not_complete_is_recorded_retried_and_never_complete(
        shop_client, fake, connected, shop_settings, db, database_url, shop_data, outcome, recorded):
    fake.script_bulk("orders", outcome, "INTERNAL_SERVER_ERROR" if outcome == "FAILED" else None)
    start(shop_client, connected)
    run_queued(shop_settings, db)
    finish_and_deliver(shop_client, fake, shop_settings, db)
    latest = status(shop_client, connected)
    assert latest["status"] == "running"  # never complete on a failed or partial operation
    orders = [op for op in latest["operations"] if op["kind"] == "orders"]
    assert [op["status"] for op in orders] == [recorded, "created"]  # recorded, and another one started
    assert orders[0]["error_code"] == ("INTERNAL_SERVER_ERROR" if outcome == "FAILED" else None)
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 0  # no partial data loaded
    assert shop_client.get("/api/settings/setup-progress", headers=connected.headers).json[
        "setup_progress"]["import"] == "pending"
    finish_and_deliver(shop_client, fake, shop_settings, db)
    latest = status(shop_client, connected)
    assert latest["status"] == "completed"
    assert [op["status"] for op in latest["operations"] if op["kind"] == "orders"] == [recorded, "loaded"]
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == ORDERS


def test_an_import_fails_after_five_failed_operations_of_one_kind(shop_client, fake, connected, shop_settings, db,
                                                                  shop_data):
    for _ in range(5):
        fake.script_bulk("customers", "FAILED", "TIMEOUT")
    start(shop_client, connected)
    run_queued(shop_settings, db)
    for _ in range(5):
        finish_and_deliver(shop_client, fake, shop_settings, db)
    latest = status(shop_client, connected)
    assert latest["status"] == "failed" and "customers" in latest["error"]
    assert [op["status"] for op in latest["operations"] if op["kind"] == "customers"] == ["failed"] * 5


def test_without_the_finish_webhook_polling_completes_the_import(shop_client, fake, connected, shop_settings, db,
                                                                 shop_data):
    start(shop_client, connected)
    run_queued(shop_settings, db)
    context = worker_context(replace(shop_settings, shopify_import_poll_seconds=0), db)
    poll_imports(context)
    run_queued(shop_settings, db)  # Shopify still running: the check records RUNNING and the count
    running = status(shop_client, connected)
    assert {op["status"] for op in running["operations"]} == {"running"}
    assert all(op["objects_read"] >= 1 for op in running["operations"])
    fake.finish_bulk_operations(SHOP)  # the webhooks are lost
    poll_imports(context)
    poll_imports(context)  # a check already waiting is not queued twice
    checks = [r for r in run_queued(shop_settings, db) if r.operation_type == "shopify.import_check"]
    assert len(checks) == 4 and all(r.error is None for r in checks)
    assert status(shop_client, connected)["status"] == "completed"


def test_older_api_versions_run_one_bulk_operation_at_a_time(settings, db, fake, user, database_url):
    old = replace(settings, shopify_client_id=fake.client_id, shopify_client_secret=fake.client_secret,
                  shopify_base_url=fake.base + "/shops/{shop}", public_url="http://hub.test",
                  app_url="http://app.test", shopify_api_version="2025-10")
    client = create_app(old, database=db).test_client()
    from .support.shopify import connect
    connect(client, fake, user)
    make_shop_data(fake.shops[SHOP], orders=50, customers=10, products=3)
    run_queued(old, db)
    start(client, user)
    run_queued(old, db)
    in_flight = []
    for _ in range(6):
        in_flight.append(sum(op.status not in ("COMPLETED", "FAILED") for op in fake.bulk_operations.values()))
        finish_and_deliver(client, fake, old, db)
    assert max(in_flight) == 1
    assert status(client, user)["status"] == "completed"
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 50


def test_a_result_url_that_expired_is_recorded_and_retried(shop_client, fake, connected, shop_settings, db,
                                                           database_url, shop_data):
    start(shop_client, connected)
    run_queued(shop_settings, db)
    deliveries = fake.finish_bulk_operations(SHOP)
    fake.bulk_files.clear()  # every signed URL refused, as after a week
    for body, headers in deliveries:
        shop_client.post("/api/webhooks/shopify", data=body, headers=headers)
    run_queued(shop_settings, db)
    latest = status(shop_client, connected)
    assert latest["status"] == "running"
    assert {op["status"] for op in latest["operations"]} == {"expired", "created"}
    finish_and_deliver(shop_client, fake, shop_settings, db)
    assert status(shop_client, connected)["status"] == "completed"


@pytest.mark.parametrize("bad, problem", [
    (b"not json", "line 2 is not JSON"),
    (b'{"id": "gid://shopify/Order/2", "customer": {"id": ["gid"]}}', "line 2: customer.id"),
    (b'{"id": "gid://shopify/Order/2", "totalPriceSet": {"shopMoney": {"amount": "lots"}}}', "numeric"),
    (b'{"id": "gid://shopify/Order/2", "sourceName": "we\\u0000b"}', "cannot hold"),  # NUL: Postgres text has none
])
def test_a_result_that_cannot_be_read_is_recorded_failed_and_retried(shop_client, fake, connected, shop_settings, db,
                                                                     database_url, shop_data, bad, problem):
    shop_data.bulk_sources["orders"] = lambda: iter([b'{"id": "gid://shopify/Order/1"}\n', bad + b"\n"])
    start(shop_client, connected)
    run_queued(shop_settings, db)
    finish_and_deliver(shop_client, fake, shop_settings, db)
    latest = status(shop_client, connected)
    orders = [op for op in latest["operations"] if op["kind"] == "orders"]
    assert [op["status"] for op in orders] == ["failed", "created"]
    assert "could not be read" in orders[0]["error"] and problem in orders[0]["error"], orders[0]["error"]
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 0  # not one line of it
    del shop_data.bulk_sources["orders"]
    finish_and_deliver(shop_client, fake, shop_settings, db)
    assert status(shop_client, connected)["status"] == "completed"
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == ORDERS


def test_starting_needs_a_connected_shop_and_one_import_runs_at_a_time(shop_client, fake, user, connected,
                                                                       make_user, shop_settings, db, shop_data):
    stranger = make_user("no-shop@example.test")
    response = shop_client.post("/api/shopify/import", headers=stranger.headers)
    assert response.status_code == 409 and response.json["error"] == "not_connected"
    first, second = start(shop_client, connected), start(shop_client, connected)
    assert first["id"] == second["id"]
    # Nobody completes the import step by saying so; skipping is fine.
    refused = shop_client.patch("/api/settings/setup-progress/import", json={"status": "completed"},
                                headers=connected.headers)
    assert refused.status_code == 409
    assert shop_client.get("/api/shopify/import", headers=stranger.headers).json == {"latest": None}


def test_shop_redact_after_an_import_deletes_the_shops_data(shop_client, fake, connected, shop_settings, db,
                                                           database_url, shop_data):
    assert run_import(shop_client, fake, connected, shop_settings, db)["status"] == "completed"
    deliver(shop_client, fake, "products/delete", {"id": 502})
    deliver(shop_client, fake, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    run_queued(shop_settings, db)
    for table in ("customer_orders", "customers", "shopify_products", "shopify_product_variants",
                  "shopify_collections", "shopify_collection_products", "shopify_catalog_deletions",
                  "shopify_imports", "shopify_bulk_operations"):
        assert sql(database_url, f"select count(*) from public.{table}")[0][0] == 0, table
    audit = sql(database_url, "select result from public.shopify_compliance_requests where topic = 'shop/redact'")
    assert audit[0][0]["orders_deleted"] == ORDERS and audit[0][0]["products_deleted"] == 19


def test_a_delete_webhook_racing_the_import_wins(shop_client, fake, connected, shop_settings, db, database_url,
                                                 shop_data):
    start(shop_client, connected)
    run_queued(shop_settings, db)  # the operations are running at Shopify: their snapshot holds both
    for topic, payload in [("products/delete", {"id": 501}), ("collections/delete", {"id": 1})]:
        assert deliver(shop_client, fake, topic, payload).json == {"status": "accepted"}
    run_queued(shop_settings, db)
    for _ in range(3):
        finish_and_deliver(shop_client, fake, shop_settings, db)
    assert status(shop_client, connected)["status"] == "completed"
    assert sql(database_url, "select count(*) from public.shopify_products where shopify_product_id = '501'") == [(0,)]
    assert sql(database_url, "select count(*) from public.shopify_collections where shopify_collection_id = '1'") == \
        [(0,)]
    assert sql(database_url, "select count(*) from public.shopify_collection_products"
                             " where shopify_product_id = '501' or shopify_collection_id = '1'") == [(0,)]
    assert sql(database_url, "select count(*) from public.shopify_products") == [(19,)]  # the others all came


def test_products_and_collections_kept_in_sync_by_webhooks(shop_client, fake, connected, shop_settings, db,
                                                           database_url, shop_data):
    assert run_import(shop_client, fake, connected, shop_settings, db)["status"] == "completed"
    update = {"id": 501, "title": "Print 1, reframed", "handle": "print-1", "status": "active", "tags": "quotes",
              "updated_at": "2026-11-05T00:00:00Z", "created_at": "2026-11-01T00:00:00Z", "images": [],
              "variants": [{"id": 5010, "title": "8x10", "sku": "P1-8x10", "price": "21.00", "inventory_quantity": 3}]}
    created = {"id": 999, "title": "New print", "handle": "new", "status": "draft", "tags": "",
               "updated_at": "2026-11-05T00:00:00Z", "created_at": "2026-11-05T00:00:00Z",
               "variants": [{"id": 9990, "title": "A3", "price": "30.00"}]}
    stale = dict(update, updated_at="2026-10-01T00:00:00Z", title="Stale title")
    for topic, payload in [("products/update", update), ("products/create", created), ("products/update", stale),
                           ("products/delete", {"id": 502}),
                           ("collections/update", {"id": 2, "title": "Wall posters", "handle": "posters",
                                                   "updated_at": "2026-11-05T00:00:00Z"}),
                           ("collections/create", {"id": 3, "title": "Smart", "rules": [{"column": "tag"}],
                                                   "updated_at": "2026-11-05T00:00:00Z"}),
                           ("collections/delete", {"id": 1})]:
        assert deliver(shop_client, fake, topic, payload).json == {"status": "accepted"}
    ran = run_queued(shop_settings, db)
    assert all(r.error is None for r in ran)
    assert sql(database_url, "select p.title, array_agg(v.shopify_variant_id order by 1) from public.shopify_products p"
                             " join public.shopify_product_variants v on v.product_id = p.id"
                             " where p.shopify_product_id in ('501', '999') group by 1 order by 1") == \
        [("New print", ["9990"]), ("Print 1, reframed", ["5010"])]
    assert sql(database_url, "select count(*) from public.shopify_products where shopify_product_id = '502'")[0][0] == 0
    assert sql(database_url, "select shopify_collection_id, title, collection_type from public.shopify_collections"
                             " order by 1") == [("2", "Wall posters", "custom"), ("3", "Smart", "smart")]
    assert sql(database_url, "select count(*) from public.shopify_collection_products"
                             " where shopify_collection_id = '1'")[0][0] == 0

    export = shop_client.get("/api/export", query_string={"type": "products", "format": "json",
                                                          "startDate": "2026-01-01"}, headers=connected.headers)
    assert export.status_code == 200, export.json
    rows = {row["shopify_product_id"]: row for row in export.json}
    assert len(rows) == 20 and "502" not in rows
    assert rows["501"]["title"] == "Print 1, reframed" and rows["501"]["variant_count"] == 1
    assert rows["500"]["collections"] == "Wall posters" and rows["500"]["min_price"] == 19.99


def test_the_wizards_import_step_starts_the_import_and_completes_with_it(shop_settings, db, fake, database_url):
    from urllib.parse import parse_qsl, urlsplit

    from .support.console import console_app, post_form, sign_in_locally

    make_shop_data(fake.shops[SHOP], orders=40, customers=8, products=2)
    browser = console_app(shop_settings, db).test_client()
    sign_in_locally(browser, "importer@haven.local")
    page = "/console/setup?step=import"
    assert "Connect Shopify first" in browser.get(page).get_data(as_text=True)
    started = post_form(browser, "/console/setup", "/console/setup/shopify/install", {"shop": SHOP})
    state = dict(parse_qsl(urlsplit(started.headers["Location"]).query))["state"]
    callback = urlsplit(fake.approve(SHOP, state, "http://hub.test/api/integrations/shopify/callback"))
    browser.get(f"{callback.path}?{callback.query}")
    run_queued(shop_settings, db)  # webhook registration

    assert "Start the import" in browser.get(page).get_data(as_text=True)
    response = post_form(browser, page, "/console/setup/import/shopify/start")
    assert response.status_code == 303 and response.headers["Location"] == page
    run_queued(shop_settings, db)
    html = browser.get(page).get_data(as_text=True)
    assert "<strong>running</strong>" in html and "Start the import" not in html
    finish_and_deliver(browser, fake, shop_settings, db)
    html = browser.get(page).get_data(as_text=True)
    assert "<strong>completed</strong>" in html and "Import again" in html
    assert sql(database_url, "select s.setup_progress->>'import', (select count(*) from public.customer_orders)"
                             " from public.user_settings s join auth.users u on u.id = s.user_id"
                             " where u.email = 'importer@haven.local'") == [("completed", 40)]


def test_an_uninstall_during_the_import_fails_it_and_polling_stops(shop_client, fake, connected, shop_settings, db,
                                                                   database_url, shop_data):
    start(shop_client, connected)
    run_queued(shop_settings, db)
    deliver(shop_client, fake, "app/uninstalled", {"id": 1, "domain": SHOP})
    run_queued(shop_settings, db)
    finish_and_deliver(shop_client, fake, shop_settings, db)  # the finish webhooks are ignored now
    assert status(shop_client, connected)["status"] == "running"
    context = worker_context(replace(shop_settings, shopify_import_poll_seconds=0), db)
    poll_imports(context)  # the poller's check finds the shop gone
    run_queued(shop_settings, db)
    latest = status(shop_client, connected)
    assert latest["status"] == "failed" and "disconnected" in latest["error"]
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 0
    poll_imports(context)  # and polls no more
    assert not [r for r in run_queued(shop_settings, db) if r.operation_type == "shopify.import_check"]
