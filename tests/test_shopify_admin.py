"""Issue 14 against the fake Shopify: order webhooks rolled up into the analytics export in the
shop's time zone; products created and updated through queued operations (a refused product on the
failed list, a passing failure retried); customer lookup and search behind the service."""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from .support.db import sql
from .support.flow import run_queued
from .support.shopify import ORDER, SHOP, connect, deliver



def _order(number: int, created_at: str, total: str, customer: int, *, updated_at: str | None = None,
           status: str = "paid") -> dict:
    return {**ORDER, "id": number, "created_at": created_at, "updated_at": updated_at or created_at,
            "total_price": total, "financial_status": status,
            "customer": {"id": customer, "email": f"c{customer}@example.com"}}


def _analytics(client, user, start: str, end: str) -> dict[str, tuple[Decimal, int, int]]:  # type: ignore[no-untyped-def]
    response = client.get("/api/export", headers=user.headers, query_string={
        "type": "analytics", "format": "json", "fields": "date,revenue,orders,new_customers",
        "startDate": start, "endDate": end})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {row["date"]: (Decimal(str(row["revenue"])), int(row["orders"]), int(row["new_customers"]))
            for row in json.loads(response.get_data())}


# --- daily analytics -------------------------------------------------------------------------

def test_order_webhooks_fill_the_analytics_export_on_the_shops_days(shop_client, shop_settings, db, fake, user,
                                                                     database_url):
    connect(shop_client, fake, user)
    assert sql(database_url, "select iana_timezone from public.shopify_shops where shop_domain = %s",
               [SHOP]) == [("America/New_York",)]
    run_queued(shop_settings, db)  # webhook registration
    # 01:30 UTC on the 20th is the evening of the 19th in New York.
    for topic, payload in [
        ("orders/create", _order(1, "2026-11-20T01:30:00Z", "45.00", 71)),
        ("orders/create", _order(2, "2026-11-20T15:00:00-05:00", "30.00", 71)),
        ("orders/create", _order(3, "2026-11-20T12:00:00-05:00", "20.00", 72)),
        # Order 2 refunded, and a late, older copy of its creation that must change nothing.
        ("orders/updated", _order(2, "2026-11-20T15:00:00-05:00", "30.00", 71,
                                  updated_at="2026-11-21T09:00:00-05:00", status="refunded")),
        ("orders/updated", _order(2, "2026-11-20T15:00:00-05:00", "30.00", 71)),
        # Order 3 redelivered: counted once.
        ("orders/create", _order(3, "2026-11-20T12:00:00-05:00", "20.00", 72)),
    ]:
        assert deliver(shop_client, fake, topic, payload).status_code == 200
    ran = run_queued(shop_settings, db)
    assert [r.error for r in ran if r.operation_type == "shopify.process_webhook"] == [None] * 6

    assert _analytics(shop_client, user, "2026-11-18T00:00:00Z", "2026-11-22T00:00:00Z") == {
        "2026-11-19": (Decimal("45.00"), 1, 1),
        "2026-11-20": (Decimal("20.00"), 1, 1),
    }

    # shop/redact takes the shop's figures away with its orders and customers.
    assert deliver(shop_client, fake, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}).status_code == 200
    run_queued(shop_settings, db)
    figures = _analytics(shop_client, user, "2026-11-18T00:00:00Z", "2026-11-22T00:00:00Z")
    assert set(figures.values()) == {(Decimal("0.00"), 0, 0)}


def test_a_time_zone_postgres_does_not_know_counts_days_in_utc(shop_client, shop_settings, db, fake, user,
                                                                database_url, caplog):
    fake.shops[SHOP].iana_timezone = "Mars/Olympus_Mons"
    caplog.set_level(logging.WARNING)
    connect(shop_client, fake, user)
    assert sql(database_url, "select iana_timezone from public.shopify_shops") == [(None,)]
    assert any("counted in UTC" in r.getMessage() for r in caplog.records)
    run_queued(shop_settings, db)
    deliver(shop_client, fake, "orders/create", _order(1, "2026-11-20T01:30:00Z", "45.00", 71))
    run_queued(shop_settings, db)
    assert _analytics(shop_client, user, "2026-11-18T00:00:00Z", "2026-11-22T00:00:00Z") == {
        "2026-11-20": (Decimal("45.00"), 1, 1)}


def test_a_shop_connected_before_its_zone_was_read_gets_it_from_a_queued_job(shop_client, shop_settings, db, fake,
                                                                             user, database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    deliver(shop_client, fake, "orders/create", _order(1, "2026-11-20T20:00:00Z", "45.00", 71))
    run_queued(shop_settings, db)
    with db.as_service() as conn:  # as a shop connected before the column existed
        conn.execute("update public.shopify_shops set iana_timezone = null")
        conn.execute("select public.queue_for_retry(%s, 'shopify.sync_shop_time_zone', %s)",
                     [user.id, json.dumps({"shop": SHOP})])
    assert _analytics(shop_client, user, "2026-11-18T00:00:00Z", "2026-11-22T00:00:00Z") == {
        "2026-11-20": (Decimal("45.00"), 1, 1)}
    fake.shops[SHOP].iana_timezone = "Asia/Tokyo"
    ran = run_queued(shop_settings, db)
    assert [(r.operation_type, r.error) for r in ran] == [("shopify.sync_shop_time_zone", None)]
    assert sql(database_url, "select time_zone from public.daily_metrics_time_zones where user_id = %s",
               [user.id]) == [("Asia/Tokyo",)]
    # 20:00 UTC is 05:00 the next day in Tokyo: the day was recomputed there.
    figures = _analytics(shop_client, user, "2026-11-18T00:00:00Z", "2026-11-23T00:00:00Z")
    assert figures["2026-11-21"] == (Decimal("45.00"), 1, 1)
    assert figures.get("2026-11-20", (Decimal("0.00"), 0, 0)) == (Decimal("0.00"), 0, 0)


# --- products --------------------------------------------------------------------------------

def _queue_item(url: str, item: str) -> tuple[str, int, str | None]:
    return sql(url, "select status, attempts, last_error from public.retry_queue where id = %s", [item])[0]


def test_a_product_is_created_through_a_queued_operation(shop_client, shop_settings, db, fake, user, database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    response = shop_client.post("/api/shopify/products", headers=user.headers, json={
        "title": "Quiet mornings print", "description_html": "<p>A4, matte</p>", "vendor": "Haven",
        "tags": ["calm", "bedroom"]})
    assert response.status_code == 202, response.json
    assert response.json["queued"] is True and response.json["operation_type"] == "shopify.create_product"
    item = response.json["retry_item_id"]
    assert fake.shops[SHOP].products == {}  # nothing happens before the worker runs it

    ran = run_queued(shop_settings, db)
    assert [(r.operation_type, r.error) for r in ran] == [("shopify.create_product", None)]
    (product,) = fake.shops[SHOP].products.values()
    assert product["title"] == "Quiet mornings print" and product["descriptionHtml"] == "<p>A4, matte</p>"
    assert product["status"] == "DRAFT" and product["tags"] == ["calm", "bedroom"]
    assert _queue_item(database_url, item)[0] == "resolved"
    details = sql(database_url, "select details from public.activity_log where user_id = %s"
                                " and action_type = 'shopify_product_created'", [user.id])
    assert details[0][0]["product_id"] == product["id"]

    # Updated: only the fields sent change.
    numeric = product["id"].rsplit("/", 1)[1]
    response = shop_client.patch(f"/api/shopify/products/{numeric}", headers=user.headers,
                                 json={"title": "Quiet mornings (A4)", "status": "ACTIVE"})
    assert response.status_code == 202 and response.json["operation_type"] == "shopify.update_product"
    assert [r.error for r in run_queued(shop_settings, db)] == [None]
    assert fake.shops[SHOP].products[product["id"]]["title"] == "Quiet mornings (A4)"
    assert fake.shops[SHOP].products[product["id"]]["status"] == "ACTIVE"
    assert fake.shops[SHOP].products[product["id"]]["vendor"] == "Haven"
    sent = [r["variables"]["product"] for r in fake.requests if r["op"] == "productUpdate"]
    assert sent == [{"id": product["id"], "title": "Quiet mornings (A4)", "status": "ACTIVE"}]


def test_a_refused_product_fails_at_once_and_shows_on_the_failed_list(shop_client, shop_settings, db, fake, user,
                                                                      database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    first = shop_client.post("/api/shopify/products", headers=user.headers,
                             json={"title": "One", "handle": "quiet-mornings"})
    run_queued(shop_settings, db)
    second = shop_client.post("/api/shopify/products", headers=user.headers,
                              json={"title": "Two", "handle": "quiet-mornings"})
    ran = run_queued(shop_settings, db)
    assert first.status_code == second.status_code == 202
    assert len(ran) == 1 and ran[0].error is not None  # not retried: asking again gets the same answer
    status, attempts, last_error = _queue_item(database_url, second.json["retry_item_id"])
    assert (status, attempts) == ("failed", 1)
    assert "Handle has already been taken" in last_error
    failed = shop_client.get("/api/errors?status=failed", headers=user.headers).json
    assert [(i["operation_type"], "Handle has already been taken" in i["last_error"]) for i in failed["items"]] == \
        [("shopify.create_product", True)]
    assert len(fake.shops[SHOP].products) == 1

    # An unknown product is refused the same way.
    missing = shop_client.patch("/api/shopify/products/987654321", headers=user.headers, json={"vendor": "X"})
    run_queued(shop_settings, db)
    status, _, last_error = _queue_item(database_url, missing.json["retry_item_id"])
    assert status == "failed" and "Product does not exist" in last_error


def test_a_passing_failure_is_retried_until_the_product_is_created(shop_client, shop_settings, db, fake, user,
                                                                    database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    fake.fail_next("productCreate", 503)
    fake.fail_next("productCreate", "throttled")
    item = shop_client.post("/api/shopify/products", headers=user.headers, json={"title": "Retry me"}).json[
        "retry_item_id"]
    ran = run_queued(shop_settings, db)
    assert [r.error is None for r in ran] == [False, False, True]
    assert _queue_item(database_url, item)[:2] == ("resolved", 3)
    assert [p["title"] for p in fake.shops[SHOP].products.values()] == ["Retry me"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/shopify/products", {}),
    ("post", "/api/shopify/products", {"title": "   "}),
    ("post", "/api/shopify/products", {"title": "x", "colour": "red"}),
    ("post", "/api/shopify/products", {"title": "x", "status": "LIVE"}),
    ("post", "/api/shopify/products", {"title": "x", "handle": "Not A Handle"}),
    ("post", "/api/shopify/products", {"title": "x", "tags": ["a,b"]}),
    ("patch", "/api/shopify/products/123", {}),
    ("patch", "/api/shopify/products/123", {"title": None}),
    ("patch", "/api/shopify/products/abc", {"title": "x"}),
    ("patch", "/api/shopify/products/0123", {"title": "x"}),
])
def test_bad_product_requests_are_400_and_queue_nothing(shop_client, fake, user, database_url, method, path, body):
    connect(shop_client, fake, user)
    response = getattr(shop_client, method)(path, headers=user.headers, json=body)
    assert response.status_code == 400 and response.json["error"] == "invalid_request", response.json
    assert sql(database_url, "select count(*) from public.retry_queue where operation_type like 'shopify.%%_product'"
               ) == [(0,)]


def test_products_and_customers_need_a_connected_shop(shop_client, user):
    for response in (shop_client.post("/api/shopify/products", headers=user.headers, json={"title": "x"}),
                     shop_client.get("/api/shopify/customers/5", headers=user.headers),
                     shop_client.get("/api/shopify/customers?query=ann", headers=user.headers)):
        assert response.status_code == 409 and response.json["error"] == "not_connected"


# --- customers -------------------------------------------------------------------------------

@pytest.fixture
def customers(fake):  # type: ignore[no-untyped-def]
    fake.add_customer(SHOP, 501, first_name="Ann", last_name="Lee", email="ann@example.com", orders=3,
                      spent="120.50", tags=("vip",))
    for n in range(5):
        fake.add_customer(SHOP, 600 + n, first_name="Bo", last_name=f"Number{n}", email=f"bo{n}@example.com")
    fake.add_customer("other-shop.myshopify.com", 777, first_name="Ann", last_name="Elsewhere",
                      email="ann@other.example")


def test_a_customer_is_looked_up_by_id(shop_client, fake, user, customers):
    connect(shop_client, fake, user)
    response = shop_client.get("/api/shopify/customers/501", headers=user.headers)
    assert response.status_code == 200
    assert response.json == {
        "id": "gid://shopify/Customer/501", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
        "number_of_orders": 3, "amount_spent": "120.50", "currency": "USD", "tags": ["vip"],
        "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"}
    assert [r["variables"] for r in fake.requests if r["op"] == "customer"] == [{"id": "gid://shopify/Customer/501"}]
    # Another shop's customer is not this shop's.
    missing = shop_client.get("/api/shopify/customers/777", headers=user.headers)
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    for bad in ("abc", "0501", "1" * 21, "5%00"):
        response = shop_client.get(f"/api/shopify/customers/{bad}", headers=user.headers)
        assert response.status_code == 400, bad


def test_customers_are_searched_a_bounded_page_at_a_time(shop_client, fake, user, customers):
    connect(shop_client, fake, user)
    first = shop_client.get("/api/shopify/customers?query=bo&limit=2", headers=user.headers)
    assert first.status_code == 200
    assert [c["last_name"] for c in first.json["customers"]] == ["Number0", "Number1"]
    pages, cursor = [first.json], first.json["next_cursor"]
    while cursor:
        page = shop_client.get("/api/shopify/customers", headers=user.headers,
                               query_string={"query": "bo", "limit": 2, "after": cursor}).json
        pages.append(page)
        cursor = page["next_cursor"]
    assert [len(p["customers"]) for p in pages] == [2, 2, 1]
    exact = shop_client.get("/api/shopify/customers", headers=user.headers,
                            query_string={"query": "email:ann@example.com"}).json
    assert [c["id"] for c in exact["customers"]] == ["gid://shopify/Customer/501"] and exact["next_cursor"] is None
    none = shop_client.get("/api/shopify/customers?query=nobody", headers=user.headers).json
    assert none == {"customers": [], "next_cursor": None}
    for bad in ({}, {"query": ""}, {"query": "  "}, {"query": "x" * 201}, {"query": "bo", "limit": 51},
                {"query": "bo", "limit": 0}, {"query": "bo", "after": "has space"}, {"query": "bo", "page": 2}):
        response = shop_client.get("/api/shopify/customers", headers=user.headers, query_string=bad)
        assert response.status_code == 400, bad


def test_shopify_failures_on_customer_calls_are_mapped_once(shop_client, fake, user, customers):
    connect(shop_client, fake, user)
    fake.fail_next("customer", 503)
    down = shop_client.get("/api/shopify/customers/501", headers=user.headers)
    assert down.status_code == 502 and down.json["error"] == "upstream_unavailable"
    fake.fail_next("customers", "throttled")
    throttled = shop_client.get("/api/shopify/customers?query=ann", headers=user.headers)
    assert throttled.status_code == 502 and throttled.json["error"] == "upstream_unavailable"
    # A revoked token: the shop refuses it; the user must reconnect.
    fake.access_tokens.clear()
    refused = shop_client.get("/api/shopify/customers/501", headers=user.headers)
    assert refused.status_code == 409 and refused.json["error"] == "reconnect_required"


# --- the migration: rows held before it are rolled up, held shops get their zone read -----------

def test_the_migration_rolls_up_existing_rows_and_queues_reading_held_shops_zones(cluster, tmp_path):
    import shutil

    import psycopg

    from service.migrate import MIGRATIONS_DIR, migrate, recreate_database

    rollup = next(MIGRATIONS_DIR.glob("20261130150000_*.sql"))
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name < rollup.name:
            shutil.copy(path, folder)
    recreate_database(cluster.url(), "rollup_migration")
    url = cluster.url("rollup_migration")
    migrate(url, folder)
    user_id = "b0000000-0000-4000-8000-000000000001"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated',"
                     " 'before@example.test')", [user_id])
        conn.execute("insert into public.customers (user_id, shopify_customer_id, first_order_at)"
                     " values (%s, '1', '2026-11-02T10:00:00Z')", [user_id])
        conn.execute("insert into public.customer_orders (user_id, shopify_order_id, total, status, created_at)"
                     " values (%s, '1', 40, 'paid', '2026-11-02T10:00:00Z'),"
                     " (%s, '2', 15, 'refunded', '2026-11-02T11:00:00Z'),"
                     " (%s, '3', 5, 'paid', '2026-11-03T11:00:00Z')", [user_id, user_id, user_id])
        conn.execute("select public.store_credential(%s, 'shopify', 'access_token', 'shpat_before')", [user_id])
        conn.execute("update public.integrations set status = 'connected', metadata = %s"
                     " where user_id = %s and provider = 'shopify'", [json.dumps({"shop_domain": SHOP}), user_id])
        conn.execute("insert into public.shopify_shops (shop_domain, user_id) values (%s, %s)", [SHOP, user_id])
    shutil.copy(rollup, folder)
    assert [m.name for m in migrate(url, folder)] == [rollup.stem.split("_", 1)[1]]
    with psycopg.connect(url) as conn:
        assert conn.execute("select date::text, revenue, orders, new_customers from public.daily_metrics"
                            " order by date").fetchall() == [("2026-11-02", Decimal("40.00"), 1, 1),
                                                             ("2026-11-03", Decimal("5.00"), 1, 0)]
        assert conn.execute("select operation_type, payload from public.retry_queue").fetchall() == [
            ("shopify.sync_shop_time_zone", {"shop": SHOP})]
