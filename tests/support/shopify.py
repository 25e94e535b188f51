"""Shopify test doubles wired to the app: the fake shop on loopback, settings and a client that
point at it, and the steps of connecting a shop and delivering webhooks through it."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest

from service.app import create_app

from ..fakes.server import serve
from ..fakes.shopify import FakeShopify
from .db import sql

SHOP = "haven-prints.myshopify.com"
CALLBACK = "/api/integrations/shopify/callback"


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    shopify = FakeShopify()
    shopify.add_shop(SHOP, "Haven Prints")
    shopify.add_shop("other-shop.myshopify.com", "Other")
    with serve(shopify.app()) as base:
        shopify.base = base  # type: ignore[attr-defined]
        yield shopify


@pytest.fixture
def shop_settings(settings, fake):  # type: ignore[no-untyped-def]
    return replace(settings, shopify_client_id=fake.client_id, shopify_client_secret=fake.client_secret,
                   shopify_base_url=fake.base + "/shops/{shop}", public_url="http://hub.test",
                   app_url="http://app.test")


@pytest.fixture
def shop_client(shop_settings, db):  # type: ignore[no-untyped-def]
    app = create_app(shop_settings, database=db)
    app.testing = True
    return app.test_client()


def integration(url: str, user_id: str) -> dict:
    rows = sql(url, "select status, metadata, last_error, token_expires_at from public.integrations"
                    " where user_id = %s and provider = 'shopify'", [user_id])
    return dict(zip(("status", "metadata", "last_error", "token_expires_at"), rows[0])) if rows else {}


def credential(url: str, user_id: str, kind: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role service_role")
        return conn.execute("select public.get_credential(%s, 'shopify', %s, 'tests', 'check what is stored')", [user_id, kind]).fetchone()[0]


def begin(client, user, shop: str = SHOP) -> str:  # type: ignore[no-untyped-def]
    """Starts the install as `user`; returns the state Shopify will echo back."""
    response = client.get(f"/api/integrations/shopify/install?shop={shop}&format=json", headers=user.headers)
    assert response.status_code == 200, response.json
    return dict(parse_qsl(urlsplit(response.json["authorize_url"]).query))["state"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def outcome(response) -> dict:  # type: ignore[no-untyped-def]
    """Where the callback sent the browser: the console's integrations page and its query."""
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://app.test/console/integrations?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query.pop("provider", "shopify") == "shopify"
    return query


def settled(client, response, user) -> dict:  # type: ignore[no-untyped-def]
    """The callback's outcome once `user` confirms a held JSON API flow (as their front end would)."""
    query = outcome(response)
    if "confirm" not in query:
        return query
    confirmed = client.post("/api/integrations/shopify/confirm", json={"confirmation": query["confirm"]},
                            headers=user.headers)
    if confirmed.status_code == 200:
        assert confirmed.json == {"provider": "shopify", "connected": True}
        return {"success": "shopify_connected"}
    return {"error": confirmed.json["error"]}


def connect(client, fake, user) -> None:  # type: ignore[no-untyped-def]
    state = begin(client, user)
    assert settled(client, client.get(callback_path(fake.approve(SHOP, state, "http://hub.test" + CALLBACK))),
                   user) == {"success": "shopify_connected"}


HOOK = "/api/webhooks/shopify"
ORDER = {"id": 820982911946154508, "email": "jon@example.com", "created_at": "2026-11-20T10:00:00-05:00",
         "updated_at": "2026-11-20T10:05:00-05:00", "total_price": "45.00", "subtotal_price": "50.00",
         "total_discounts": "5.00", "financial_status": "paid", "line_items": [{"id": 1, "quantity": 2}],
         "discount_codes": [{"code": "SPRING5", "amount": "5.00", "type": "fixed_amount"}],
         "landing_site": "/?utm_source=pinterest", "customer": {"id": 115310627314723954, "email": "jon@example.com"}}


@pytest.fixture
def connected(shop_client, fake, user):  # type: ignore[no-untyped-def]
    connect(shop_client, fake, user)
    return user


def deliver(client, fake, topic, payload, **kwargs):  # type: ignore[no-untyped-def]
    body, headers = fake.signed_webhook(topic, kwargs.pop("shop", SHOP), payload, **kwargs)
    return client.post(HOOK, data=body, headers=headers)


def counts(url: str) -> tuple[int, int]:
    return (sql(url, "select count(*) from public.shopify_webhook_events")[0][0],
            sql(url, "select count(*) from public.retry_queue where operation_type = 'shopify.process_webhook'")[0][0])
