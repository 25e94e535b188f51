"""A shop's existing data in the shape of the import's bulk queries (GraphQL field names, gids,
children nested under the keys the fake writes as __parentId lines), and the steps of running an
import against the fake: start it, let Shopify finish, deliver the finish webhooks, run the queue."""
from __future__ import annotations

from typing import Any

from .flow import run_queued
from .shopify import HOOK, SHOP

BASE = "2026-11-01T00:00:00Z"


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def money(amount: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount}}


def make_shop_data(store, *, orders: int, customers: int, products: int = 20) -> None:  # type: ignore[no-untyped-def]
    """Fills a FakeShop: `customers` customers, `orders` orders (1-3 line items each, a customer each),
    `products` products (2 variants, 1 image) and two collections (one smart)."""
    store.customers = {gid("Customer", 10_000 + c): {
        "id": gid("Customer", 10_000 + c), "email": None, "defaultEmailAddress": {"emailAddress": f"buyer{c}@example.test"},
        "createdAt": BASE, "updatedAt": "2026-11-02T00:00:00Z"} for c in range(customers)}
    store.orders = [order(n, customer=n % customers) for n in range(orders)]
    store.products = {gid("Product", 500 + p): {
        "id": gid("Product", 500 + p), "title": f"Print {p}", "handle": f"print-{p}", "status": "ACTIVE",
        "vendor": "Haven", "productType": "Poster", "tags": ["quotes", f"t{p % 3}"], "createdAt": BASE,
        "updatedAt": BASE,
        "variants": [{"id": gid("ProductVariant", 5000 + p * 10 + v), "title": size, "sku": f"P{p}-{size}",
                      "price": f"{19 + v}.99", "inventoryQuantity": p + v, "position": v + 1}
                     for v, size in enumerate(("8x10", "A4"))],
        "media": [{"id": gid("MediaImage", 9000 + p), "image": {"url": f"https://cdn.test/{p}.png", "altText": "front"}}],
    } for p in range(products)}
    store.collections = [
        {"id": gid("Collection", 1), "title": "Best sellers", "handle": "best", "updatedAt": BASE,
         "ruleSet": {"appliedDisjunctively": False},
         "products": [{"id": gid("Product", 500 + p)} for p in range(0, products, 2)]},
        {"id": gid("Collection", 2), "title": "Posters", "handle": "posters", "updatedAt": BASE, "ruleSet": None,
         "products": [{"id": gid("Product", 500)}]},
    ]


def order(n: int, *, customer: int, updated: str = "2026-11-03T00:00:00Z", total: str | None = None) -> dict[str, Any]:
    items = 1 + n % 3
    return {
        "id": gid("Order", 700_000 + n), "email": f"buyer{customer}@example.test", "createdAt": BASE,
        "updatedAt": updated, "cancelledAt": None,
        # Every seventh order partially refunded: $5 back.
        "displayFinancialStatus": "PARTIALLY_REFUNDED" if n % 7 == 3 else "PAID",
        "totalRefundedSet": money("5.00" if n % 7 == 3 else "0.00"),
        "sourceName": "web", "discountCodes": ["SPRING5"] if n % 10 == 0 else [],
        "totalPriceSet": money(total or f"{10 + n % 50}.00"), "subtotalPriceSet": money(f"{12 + n % 50}.00"),
        "totalDiscountsSet": money("2.00"),
        "customerJourneySummary": {"firstVisit": {"landingPage": "https://shop.test/?utm_source=Pinterest"}}
        if n % 4 == 0 else None,
        "customer": {"id": gid("Customer", 10_000 + customer),
                     "defaultEmailAddress": {"emailAddress": f"buyer{customer}@example.test"}},
        "lineItems": [{"id": gid("LineItem", (700_000 + n) * 10 + i), "quantity": 1 + i} for i in range(items)],
    }


def start(client, user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post("/api/shopify/import", headers=user.headers)
    assert response.status_code == 202, response.json
    return response.json["latest"]


def status(client, user) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    response = client.get("/api/shopify/import", headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json["latest"]


def finish_and_deliver(client, fake, settings, db) -> list:  # type: ignore[no-untyped-def]
    """Shopify finishes every operation in flight and sends bulk_operations/finish; the queue runs."""
    for body, headers in fake.finish_bulk_operations(SHOP):
        assert client.post(HOOK, data=body, headers=headers).json == {"status": "accepted"}
    return run_queued(settings, db, rounds=8)


def run_import(client, fake, user, settings, db, *, rounds: int = 6) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """Starts an import and lets Shopify finish until it is no longer running."""
    start(client, user)
    run_queued(settings, db)
    for _ in range(rounds):
        finish_and_deliver(client, fake, settings, db)
        latest = status(client, user)
        if latest is None or latest["status"] != "running":
            return latest
    return status(client, user)
