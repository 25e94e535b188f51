"""POST /api/webhooks/shopify: verification, idempotent inbox, processing by topic, privacy topics."""
from __future__ import annotations

import json
from dataclasses import replace

import psycopg
import pytest

from service.app import create_app
from service.providers.shopify.jobs import WEBHOOK_TOPICS, prune_handled_deliveries

from .support.flow import registry_for, run_queued, worker_context
from .support.db import sql
from .support.shopify import HOOK, ORDER, SHOP, counts, credential, deliver, integration

def test_a_verified_order_is_recorded_queued_and_applied(shop_client, shop_settings, db, fake, connected, database_url):
    response = deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-order-1")
    assert response.status_code == 200 and response.json == {"status": "accepted"}
    event = sql(database_url, "select topic, status, event_id is not null, triggered_at is not null, api_version"
                              " from public.shopify_webhook_events where webhook_id = 'wh-order-1'")
    assert event == [("orders/create", "received", True, True, "2026-10")]
    assert counts(database_url) == (1, 1)
    ran = [r for r in run_queued(shop_settings, db) if r.operation_type == "shopify.process_webhook"]
    assert [r.error for r in ran] == [None]
    order = sql(database_url, "select total, item_count, coupon_code, attribution_channel, customer_email"
                              " from public.customer_orders where shopify_order_id = %s", [str(ORDER["id"])])
    assert [tuple(map(str, row)) for row in order] == [("45.00", "2", "SPRING5", "pinterest", "jon@example.com")]
    assert sql(database_url, "select status, payload from public.shopify_webhook_events"
                             " where webhook_id = 'wh-order-1'") == [("processed", None)]


def test_a_redelivery_answers_200_and_does_nothing(shop_client, fake, connected, database_url):
    first = deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-dup")
    again = deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-dup")
    assert first.json["status"] == "accepted"
    assert again.status_code == 200 and again.json == {"status": "duplicate"}
    assert counts(database_url) == (1, 1)


@pytest.mark.parametrize("mangle", ["wrong_secret", "missing", "tampered_body", "garbage"])
def test_a_bad_signature_is_401_and_stores_nothing(shop_client, fake, connected, database_url, mangle):
    body, headers = fake.signed_webhook("orders/create", SHOP, ORDER,
                                        secret="not-the-app-secret" if mangle == "wrong_secret" else None)
    if mangle == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    if mangle == "tampered_body":
        body = body.replace(b"45.00", b"0.01")
    if mangle == "garbage":
        headers["X-Shopify-Hmac-Sha256"] = "not base64 at all"
    response = shop_client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 401 and response.is_json and response.json["error"] == "invalid_hmac"
    assert counts(database_url) == (0, 0)


def test_shopifys_published_example_verifies_through_the_endpoint(settings, db, database_url):
    app = create_app(replace(settings, shopify_client_id="id", shopify_client_secret="sphss_sjdnbsfsdjbgksbgksgb"),
                     database=db)
    response = app.test_client().post(HOOK, data=b'{"test":{"test2": "testing"}}', headers={
        "X-Shopify-Hmac-Sha256": "RJCzgKmUoGP/Ylod4MhDP+BXTVOaV4NVbdqa3xn9vw4=", "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "example.myshopify.com", "X-Shopify-Webhook-Id": "published-vector",
        "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json == {"status": "unknown_shop"}


def test_the_previous_secret_is_accepted_during_a_rotation(shop_settings, db, fake, connected, database_url):
    rotated = replace(shop_settings, shopify_client_secret="the-new-secret",
                      shopify_previous_client_secret=fake.client_secret)
    client = create_app(rotated, database=db).test_client()
    assert deliver(client, fake, "orders/create", ORDER).json == {"status": "accepted"}


def test_a_delivery_for_an_unknown_shop_is_recorded_without_its_body(shop_client, fake, database_url):
    response = deliver(shop_client, fake, "orders/create", ORDER, shop="stranger.myshopify.com")
    assert response.status_code == 200 and response.json == {"status": "unknown_shop"}
    assert sql(database_url, "select status, payload, user_id from public.shopify_webhook_events") == \
        [("unknown_shop", None, None)]
    assert counts(database_url)[1] == 0


@pytest.mark.parametrize("header, value", [("X-Shopify-Topic", None), ("X-Shopify-Webhook-Id", None),
                                           ("X-Shopify-Shop-Domain", "evil.example.com")])
def test_a_delivery_missing_what_it_needs_is_400(shop_client, fake, connected, database_url, header, value):
    body, headers = fake.signed_webhook("orders/create", SHOP, ORDER)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    response = shop_client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_webhook"
    assert counts(database_url) == (0, 0)


def test_updates_delivered_out_of_order_keep_the_newest(shop_client, shop_settings, db, fake, connected, database_url):
    newer = dict(ORDER, updated_at="2026-11-21T00:00:00Z", financial_status="refunded")
    deliver(shop_client, fake, "orders/updated", newer)
    deliver(shop_client, fake, "orders/create", ORDER)
    run_queued(shop_settings, db)
    assert sql(database_url, "select status from public.customer_orders") == [("refunded",)]


def test_app_uninstalled_disconnects_and_forgets_the_token(shop_client, shop_settings, db, fake, connected,
                                                          database_url):
    run_queued(shop_settings, db)  # webhook registration
    assert sql(database_url, "select count(*) from public.shopify_webhooks")[0][0] == len(WEBHOOK_TOPICS)
    deliver(shop_client, fake, "app/uninstalled", {"id": 1, "domain": SHOP})
    run_queued(shop_settings, db)
    row = integration(database_url, connected.id)
    assert row["status"] == "disconnected"
    assert credential(database_url, connected.id, "access_token") is None
    assert sql(database_url, "select count(*) from public.shopify_webhooks")[0][0] == 0
    assert sql(database_url, "select count(*) from vault.secrets")[0][0] == 0


def test_privacy_topics_are_acted_on_and_audited(shop_client, shop_settings, db, fake, connected, database_url):
    deliver(shop_client, fake, "orders/create", ORDER)
    customer = {"id": ORDER["customer"]["id"], "email": "jon@example.com", "phone": "555-625-1199"}
    deliver(shop_client, fake, "customers/data_request",
            {"shop_id": 1, "shop_domain": SHOP, "customer": customer, "orders_requested": [ORDER["id"]],
             "data_request": {"id": 9999}})
    deliver(shop_client, fake, "customers/redact",
            {"shop_id": 1, "shop_domain": SHOP, "customer": customer, "orders_to_redact": [ORDER["id"]]})
    run_queued(shop_settings, db)
    assert sql(database_url, "select count(*) from public.customers")[0][0] == 0
    assert sql(database_url, "select customer_email from public.customer_orders") == [(None,)]
    audit = sql(database_url, "select topic, result::text from public.shopify_compliance_requests order by topic")
    assert [topic for topic, _ in audit] == ["customers/data_request", "customers/redact"]
    assert "jon@example.com" not in audit[1][1] and "555" not in audit[1][1]
    bodies = sql(database_url, "select count(*) from public.shopify_webhook_events where payload is not null")
    assert bodies == [(0,)]

    deliver(shop_client, fake, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    run_queued(shop_settings, db)
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 0
    assert "shop/redact" in [t for (t,) in sql(database_url, "select topic from public.shopify_compliance_requests")]


def test_shop_redact_after_a_disconnect_still_finds_the_shop(shop_client, shop_settings, db, fake, connected,
                                                             database_url):
    deliver(shop_client, fake, "orders/create", ORDER)
    run_queued(shop_settings, db)
    shop_client.delete("/api/integrations/shopify", headers=connected.headers)
    run_queued(shop_settings, db)
    response = deliver(shop_client, fake, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    assert response.json == {"status": "accepted"}
    run_queued(shop_settings, db)
    assert sql(database_url, "select count(*) from public.customer_orders")[0][0] == 0


def test_an_unfixable_payload_fails_permanently_and_keeps_its_body(shop_client, shop_settings, db, fake, connected,
                                                                   database_url):
    deliver(shop_client, fake, "orders/create", {"id": 5, "total_price": "not a number"}, webhook_id="wh-bad")
    ran = [r for r in run_queued(shop_settings, db) if r.operation_type == "shopify.process_webhook"]
    assert len(ran) == 1 and ran[0].error is not None
    assert sql(database_url, "select status, payload is not null from public.shopify_webhook_events"
                             " where webhook_id = 'wh-bad'") == [("failed", True)]
    assert sql(database_url, "select status from public.retry_queue"
                             " where operation_type = 'shopify.process_webhook'") == [("failed",)]


def test_webhook_bodies_are_json(shop_client, fake, connected, database_url):
    body, headers = fake.signed_webhook("orders/create", SHOP, ORDER)
    body = b"not json"
    from service.providers.shopify.client import webhook_hmac

    headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(body, fake.client_secret)
    response = shop_client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_webhook"
    assert json.dumps(response.json)  # a JSON error body


def test_handled_deliveries_are_pruned_after_the_retention_and_waiting_ones_kept(
        shop_client, shop_settings, db, fake, connected, database_url):
    deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-old")
    run_queued(shop_settings, db)
    deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-waiting")
    sql(database_url, "update public.shopify_webhook_events set received_at = now() - interval '31 days'")
    context = worker_context(replace(shop_settings, shopify_keep_webhook_days=30), db)

    prune_handled_deliveries(context)
    assert sql(database_url, "select webhook_id, status from public.shopify_webhook_events") == [
        ("wh-waiting", "received")]
    assert "shopify.prune_webhook_events" in registry_for(shop_settings).periodic_jobs


def test_a_retention_under_a_day_is_refused(shop_settings, db):  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least 1 day"):
        prune_handled_deliveries(worker_context(replace(shop_settings, shopify_keep_webhook_days=0), db))


def test_a_redaction_keeps_waiting_order_figures_drops_the_person_and_clears_compiled_data(
        shop_client, shop_settings, db, fake, connected, database_url):
    customer = {"id": ORDER["customer"]["id"], "email": "jon@example.com", "phone": "555-625-1199"}
    deliver(shop_client, fake, "orders/create", ORDER)
    deliver(shop_client, fake, "customers/data_request",
            {"shop_id": 1, "shop_domain": SHOP, "customer": customer, "data_request": {"id": 9999}})
    run_queued(shop_settings, db)
    [(compiled,)] = sql(database_url, "select result::text from public.shopify_compliance_requests")
    assert "jon@example.com" in compiled

    refund = {**ORDER, "updated_at": "2026-11-21T09:00:00-05:00", "total_price": "0.00",
              "financial_status": "refunded"}
    deliver(shop_client, fake, "orders/updated", refund, webhook_id="wh-refund")
    deliver(shop_client, fake, "customers/update", {**customer, "updated_at": "2026-11-21T09:00:00-05:00"},
            webhook_id="wh-customer-update")
    deliver(shop_client, fake, "customers/redact", {"shop_id": 1, "shop_domain": SHOP, "customer": customer},
            webhook_id="wh-redact")
    # The redaction is applied before the deliveries that arrived ahead of it.
    sql(database_url, "set role service_role; select public.process_shopify_webhook(id)"
                      " from public.shopify_webhook_events where webhook_id = 'wh-redact'")
    run_queued(shop_settings, db)

    assert sql(database_url, "select total::text, status, customer_email, customer_id from public.customer_orders") == [
        ("0.00", "refunded", None, None)], "the refund reached the books, without the person"
    assert sql(database_url, "select count(*) from public.customers") == [(0,)], "the person did not come back"
    events = dict(sql(database_url, "select webhook_id, status from public.shopify_webhook_events"
                                    " where webhook_id in ('wh-refund', 'wh-customer-update')"))
    assert events == {"wh-refund": "processed", "wh-customer-update": "ignored"}
    everything = sql(database_url, "select string_agg(coalesce(payload::text, '') || coalesce(result::text, ''), '')"
                                   " from (select payload, null::jsonb as result from public.shopify_webhook_events"
                                   " union all select null, result from public.shopify_compliance_requests) as kept")
    assert "jon@example.com" not in everything[0][0] and "555-625" not in everything[0][0]
    assert sql(database_url, "select status from public.retry_queue where operation_type = 'shopify.process_webhook'"
                             " and status <> 'resolved'") == []


def test_shop_redact_takes_the_queue_items_of_waiting_deliveries_with_them(
        shop_client, shop_settings, db, fake, connected, database_url):
    deliver(shop_client, fake, "orders/create", ORDER, webhook_id="wh-waiting")
    deliver(shop_client, fake, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, webhook_id="wh-shop-redact")
    sql(database_url, "set role service_role; select public.process_shopify_webhook(id)"
                      " from public.shopify_webhook_events where webhook_id = 'wh-shop-redact'")
    ran = [r for r in run_queued(shop_settings, db) if r.operation_type == "shopify.process_webhook"]
    assert [r.error for r in ran] == [None], "only the redaction's own item is left to run, and it succeeds"
    assert sql(database_url, "select count(*) from public.customer_orders") == [(0,)]


def test_deliveries_from_a_shop_the_account_no_longer_holds_are_ignored(
        shop_client, shop_settings, db, fake, connected, database_url):
    old_shop = "old-prints.myshopify.com"  # held before, still mapped to the account
    sql(database_url, "select public.claim_shopify_shop(%s, %s)", [connected.id, old_shop])
    deliver(shop_client, fake, "orders/create", ORDER, shop=old_shop, webhook_id="wh-old-order")
    deliver(shop_client, fake, "app/uninstalled", {"id": 2, "domain": old_shop}, shop=old_shop,
            webhook_id="wh-old-uninstall")
    run_queued(shop_settings, db)
    assert sql(database_url, "select webhook_id, status, error from public.shopify_webhook_events"
                             " where webhook_id like 'wh-old-%%' order by webhook_id") == [
        ("wh-old-order", "ignored", "not the shop this account is connected to"),
        ("wh-old-uninstall", "ignored", "not the shop this account is connected to")]
    assert sql(database_url, "select count(*) from public.customer_orders") == [(0,)]
    assert integration(database_url, connected.id)["status"] == "connected"


def test_an_uninstall_sent_before_the_current_connection_is_ignored(
        shop_client, shop_settings, db, fake, connected, database_url):
    body, headers = fake.signed_webhook("app/uninstalled", SHOP, {"id": 1, "domain": SHOP})
    headers["X-Shopify-Triggered-At"] = "2020-01-01T00:00:00.000Z"  # before this connection was made
    assert shop_client.post(HOOK, data=body, headers=headers).json == {"status": "accepted"}
    run_queued(shop_settings, db)
    assert integration(database_url, connected.id)["status"] == "connected"
    assert credential(database_url, connected.id, "access_token") is not None


def test_shop_redact_for_a_shop_held_before_spares_the_current_shops_data(
        shop_client, shop_settings, db, fake, connected, database_url):
    deliver(shop_client, fake, "orders/create", ORDER)  # from the shop the account holds now
    run_queued(shop_settings, db)
    old_shop = "old-prints.myshopify.com"
    sql(database_url, "select public.claim_shopify_shop(%s, %s)", [connected.id, old_shop])
    sql(database_url, "insert into public.customer_orders (user_id, shopify_order_id, shop_domain)"
                      " values (%s, 'old-1', %s)", [connected.id, old_shop])
    deliver(shop_client, fake, "shop/redact", {"shop_id": 2, "shop_domain": old_shop}, shop=old_shop)
    run_queued(shop_settings, db)
    assert sql(database_url, "select shopify_order_id, shop_domain from public.customer_orders") == [
        (str(ORDER["id"]), SHOP)]
    assert sql(database_url, "select shop_domain from public.customers") == [(SHOP,)]
    [(result,)] = sql(database_url, "select result from public.shopify_compliance_requests")
    assert result["orders_deleted"] == 1 and result["customers_deleted"] == 0
