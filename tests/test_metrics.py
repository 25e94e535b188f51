"""GET /metrics: off without HAVEN_METRICS_TOKEN, answered only to it, and what it reports."""
from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app

from .support.queue import enqueue
from .support.shopify import HOOK, ORDER, SHOP, deliver

TOKEN = "metrics-token-0123456789"


@pytest.fixture
def metrics_client(shop_settings, db):  # type: ignore[no-untyped-def]
    app = create_app(replace(shop_settings, metrics_token=TOKEN), database=db)
    return app.test_client()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_are_off_without_a_token(client):  # type: ignore[no-untyped-def]
    response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404 and response.json["error"] == "not_found"


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer "])
def test_metrics_answer_only_to_the_token(metrics_client, header):  # type: ignore[no-untyped-def]
    response = metrics_client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and TOKEN not in response.get_data(as_text=True)


def test_metrics_report_the_queue_the_inbox_and_refusals(metrics_client, fake, connected, database_url):  # type: ignore[no-untyped-def]
    enqueue(database_url, connected.id, "noop", count=2)
    assert deliver(metrics_client, fake, "orders/create", ORDER, webhook_id="m-1").status_code == 200
    assert deliver(metrics_client, fake, "orders/create", ORDER, webhook_id="m-1").status_code == 200
    body, headers = fake.signed_webhook("orders/create", SHOP, ORDER, webhook_id="m-2")
    assert metrics_client.post(HOOK, data=body, headers={**headers, "X-Shopify-Hmac-Sha256": "x"}).status_code == 401

    response = metrics_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    assert found[("haven_queue_items", (("operation_type", "noop"), ("status", "pending")))] == 2
    assert found[("haven_webhook_deliveries", (("status", "received"),))] == 1
    assert found[("haven_webhook_inbox_lag_seconds", ())] >= 0
    for outcome, count in (("accepted", 1), ("duplicate", 1), ("invalid_hmac", 1)):
        assert found[("haven_webhook_answers_total", (("outcome", outcome),))] == count
