"""Shopify end to end against the fake: install -> consent -> callback -> webhook registration,
every attack on the callback, token refresh, disconnect clean-up."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
import pytest

from service.integrations import tokens
from service.providers.shopify.jobs import WEBHOOK_TOPICS
from service.providers.shopify.oauth import refresher as shopify_refresher
from service.providers.shopify.client import oauth_hmac

from .support.db import sql
from .support.flow import run_queued, worker_context
from .support.shopify import (CALLBACK, SHOP, begin, callback_path, connect, credential, integration, outcome,
                              settled)

def test_install_redirects_to_shopify_for_an_offline_token(shop_client, fake, user, database_url):
    response = shop_client.get("/api/integrations/shopify/install?shop=Haven-Prints.myshopify.com",
                               headers=user.headers)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.geturl().startswith(f"{fake.base}/shops/{SHOP}/admin/oauth/authorize?")
    query = dict(parse_qsl(location.query, keep_blank_values=True))
    assert query["client_id"] == fake.client_id and query["redirect_uri"] == "http://hub.test" + CALLBACK
    assert query["scope"].split(",")[:3] == ["read_products", "write_products", "read_orders"]
    assert "grant_options[]" not in query and query["state"]
    assert integration(database_url, user.id)["status"] == "connecting"
    stored = sql(database_url, "select to_jsonb(s)::text from public.oauth_states as s where user_id = %s", [user.id])
    assert len(stored) == 1 and query["state"] not in stored[0][0]  # only a hash of the state is kept


@pytest.mark.parametrize("shop", ["evil.example.com", "haven.myshopify.com.evil.example", "-x.myshopify.com", ""])
def test_install_refuses_a_shop_that_is_not_myshopify(shop_client, user, shop, database_url):
    response = shop_client.get(f"/api/integrations/shopify/install?{urlencode({'shop': shop})}", headers=user.headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_shop"
    assert integration(database_url, user.id) == {}


def test_install_needs_a_signed_in_user(shop_client):
    assert shop_client.get(f"/api/integrations/shopify/install?shop={SHOP}").status_code == 401


def test_install_without_app_credentials_is_a_409(client, user):
    response = client.get(f"/api/integrations/shopify/install?shop={SHOP}", headers=user.headers)
    assert response.status_code == 409 and response.json["error"] == "provider_not_configured"


def test_the_whole_flow_connects_and_registers_webhooks_once(shop_client, shop_settings, db, fake, user,
                                                               database_url, caplog):
    caplog.set_level(logging.DEBUG)
    connect(shop_client, fake, user)

    row = integration(database_url, user.id)
    assert row["status"] == "connected" and row["last_error"] is None
    assert row["metadata"]["shop_domain"] == SHOP and row["metadata"]["shop_name"] == "Haven Prints"
    assert row["metadata"]["access_scopes"] == ["read_orders", "read_customers"]
    assert timedelta(minutes=55) < row["token_expires_at"] - datetime.now(timezone.utc) < timedelta(minutes=61)
    access, refresh = credential(database_url, user.id, "access_token"), credential(database_url, user.id,
                                                                                    "refresh_token")
    assert access in fake.access_tokens and refresh in fake.refresh_tokens
    assert fake.requests[0]["expiring"] == "1"
    progress = sql(database_url, "select setup_progress ->> 'shopify' from public.user_settings where user_id = %s",
                   [user.id])[0][0]
    assert progress == "completed"
    assert sql(database_url, "select count(*) from public.activity_log where user_id = %s"
                             " and action_type = 'integration_connected'", [user.id])[0][0] == 1
    assert sql(database_url, "select user_id::text from public.shopify_shops where shop_domain = %s", [SHOP]) == \
        [(user.id,)]

    ran = run_queued(shop_settings, db)
    assert [(r.operation_type, r.error) for r in ran] == [("shopify.register_webhooks", None)]
    remote = fake.shops[SHOP].webhooks
    assert sorted(w["topic"] for w in remote.values()) == sorted(t.replace("/", "_").upper() for t in WEBHOOK_TOPICS)
    assert {w["uri"] for w in remote.values()} == {"http://hub.test/api/webhooks/shopify"}
    assert sql(database_url, "select count(*) from public.shopify_webhooks where user_id = %s", [user.id])[0][0] == len(WEBHOOK_TOPICS)

    # Registering again (a reconnect) duplicates nothing, here or on Shopify.
    with db.as_service() as conn:
        conn.execute("select public.queue_for_retry(%s, 'shopify.register_webhooks', %s)",
                     [user.id, '{"shop": "%s"}' % SHOP])
    assert run_queued(shop_settings, db)[0].error is None
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)

    secrets = {access, refresh, fake.client_secret}
    assert not [r.getMessage() for r in caplog.records if any(s in r.getMessage() for s in secrets)]
    assert not any(s in str(row) for s in secrets)


def test_lost_subscriptions_are_adopted_not_duplicated(shop_client, shop_settings, db, fake, user, database_url):
    connect(shop_client, fake, user)
    token = credential(database_url, user.id, "access_token")
    from service.providers.shopify.client import ShopifyClient

    ShopifyClient(client_id=fake.client_id, client_secret=fake.client_secret, api_version="2026-10",
                  base_url_template=fake.base + "/shops/{shop}", timeout=5).create_webhook(
        SHOP, token, "orders/create", "http://hub.test/api/webhooks/shopify")
    run_queued(shop_settings, db)
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)


def test_registration_user_errors_retry_with_backoff(shop_client, shop_settings, db, fake, user, database_url):
    connect(shop_client, fake, user)
    fake.fail_next("webhookSubscriptionCreate", "user_errors")
    first = run_queued(shop_settings, db, rounds=1)
    assert first[0].error is not None and "Address is invalid" in str(first[0].error)
    status, attempts, last_error = sql(database_url, "select status, attempts, last_error from public.retry_queue"
                                                     " where operation_type = 'shopify.register_webhooks'")[0]
    assert (status, attempts) == ("pending", 1) and "Address is invalid" in last_error
    assert run_queued(shop_settings, db)[0].error is None
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)
    assert sql(database_url, "select status from public.retry_queue"
                             " where operation_type = 'shopify.register_webhooks'")[0][0] == "resolved"


# --- the callback's attack list: each answers its error and changes nothing ----------------


def signed_callback(fake, params: dict) -> str:  # type: ignore[no-untyped-def]
    params = dict(params)
    params["hmac"] = oauth_hmac(params.items(), fake.client_secret)
    return f"{CALLBACK}?{urlencode(params)}"


def approved(fake, state: str, shop: str = SHOP) -> dict:  # type: ignore[no-untyped-def]
    return dict(parse_qsl(urlsplit(fake.approve(shop, state, "http://hub.test" + CALLBACK)).query))


def assert_nothing_changed(url: str, user_id: str) -> None:
    assert integration(url, user_id)["status"] == "connecting"
    assert credential(url, user_id, "access_token") is None
    assert sql(url, "select count(*) from public.retry_queue where user_id = %s", [user_id])[0][0] == 0


def test_wrong_or_missing_hmac(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    wrong = dict(params, hmac="0" * 64)
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(wrong)}")) == {"error": "invalid_hmac"}
    missing = {k: v for k, v in params.items() if k != "hmac"}
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(missing)}")) == {"error": "invalid_hmac"}
    assert_nothing_changed(database_url, user.id)
    # The state was not spent by the refused attempts: the genuine callback still works.
    assert settled(shop_client, shop_client.get(f"{CALLBACK}?{urlencode(params)}"), user) == \
        {"success": "shopify_connected"}


@pytest.mark.parametrize("field, value", [("code", "another-code"), ("shop", "other-shop.myshopify.com"),
                                          ("state", "forged"), ("timestamp", "1")])
def test_a_tampered_parameter_breaks_the_hmac(shop_client, fake, user, database_url, field, value):
    params = approved(fake, begin(shop_client, user))
    params[field] = value
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(params)}")) == {"error": "invalid_hmac"}
    assert_nothing_changed(database_url, user.id)


def test_a_stale_timestamp_is_refused(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    params.pop("hmac")
    params["timestamp"] = str(int(datetime.now(timezone.utc).timestamp()) - 3600)
    assert outcome(shop_client.get(signed_callback(fake, params))) == {"error": "stale_request"}
    assert_nothing_changed(database_url, user.id)


def test_a_replayed_state_is_refused(shop_client, fake, user, database_url):
    state = begin(shop_client, user)
    assert settled(shop_client, shop_client.get(f"{CALLBACK}?{urlencode(approved(fake, state))}"), user) == \
        {"success": "shopify_connected"}
    exchanges = len([r for r in fake.requests if r["op"] == "token"])
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(approved(fake, state))}")) == {"error": "invalid_state"}
    assert len([r for r in fake.requests if r["op"] == "token"]) == exchanges


def test_an_expired_state_is_refused(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    sql(database_url, "update public.oauth_states set expires_at = now() - interval '1 second'")
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(params)}")) == {"error": "invalid_state"}
    assert_nothing_changed(database_url, user.id)


def test_a_state_for_another_shop_is_refused(shop_client, fake, user, database_url):
    state = begin(shop_client, user, SHOP)
    params = approved(fake, state, "other-shop.myshopify.com")
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(params)}")) == {"error": "invalid_state"}
    assert_nothing_changed(database_url, user.id)


def test_a_state_of_another_provider_is_refused(shop_client, fake, user, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("set role service_role")
        pinterest_state = conn.execute("select public.begin_oauth(%s, 'pinterest')", [user.id]).fetchone()[0]
    begin(shop_client, user)
    params = approved(fake, pinterest_state)
    assert outcome(shop_client.get(f"{CALLBACK}?{urlencode(params)}")) == {"error": "invalid_state"}
    assert_nothing_changed(database_url, user.id)


def test_a_state_cannot_connect_another_users_account(shop_client, fake, make_user, database_url):
    alice, mallory = make_user(), make_user()
    state = begin(shop_client, alice)
    # Mallory cannot redeem Alice's state for herself: the state names its user, and only Alice
    # may confirm the held connection.
    held = outcome(shop_client.get(f"{CALLBACK}?{urlencode(approved(fake, state))}", headers=mallory.headers))
    assert set(held) == {"confirm"}
    assert integration(database_url, alice.id)["status"] == "connecting"
    refused = shop_client.post("/api/integrations/shopify/confirm", json={"confirmation": held["confirm"]},
                               headers=mallory.headers)
    # As if it did not exist: Mallory learns nothing about Alice's pending connection.
    assert refused.status_code == 404 and refused.json["error"] == "confirmation_not_found"
    assert not [r for r in fake.requests if r["op"] == "token"]
    confirmed = shop_client.post("/api/integrations/shopify/confirm", json={"confirmation": held["confirm"]},
                                 headers=alice.headers)
    assert confirmed.status_code == 200
    assert integration(database_url, alice.id)["status"] == "connected"
    assert integration(database_url, mallory.id) == {}


def test_a_signed_non_myshopify_domain_is_refused(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    params.pop("hmac")
    params["shop"] = "haven-prints.example.com"
    assert outcome(shop_client.get(signed_callback(fake, params))) == {"error": "invalid_shop"}
    assert_nothing_changed(database_url, user.id)


def test_token_exchange_failure_leaves_error_and_nothing_stored(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    fake.fail_next("token", 500)
    assert settled(shop_client, shop_client.get(f"{CALLBACK}?{urlencode(params)}"), user) == \
        {"error": "token_exchange_failed"}
    row = integration(database_url, user.id)
    assert row["status"] == "error" and "token exchange failed" in row["last_error"]
    assert credential(database_url, user.id, "access_token") is None


def test_shop_query_failure_leaves_error_and_nothing_stored(shop_client, fake, user, database_url):
    params = approved(fake, begin(shop_client, user))
    fake.fail_next("shop", "throttled")
    assert settled(shop_client, shop_client.get(f"{CALLBACK}?{urlencode(params)}"), user) == \
        {"error": "shop_info_failed"}
    assert integration(database_url, user.id)["status"] == "error"
    assert credential(database_url, user.id, "access_token") is None


# --- token refresh ---------------------------------------------------------------------------


def expire_soon(url: str, user_id: str, minutes: int = 5) -> None:
    sql(url, "update public.integrations set token_expires_at = now() + make_interval(mins => %s)"
             " where user_id = %s and provider = 'shopify'", [minutes, user_id])


def test_refresh_before_expiry_rotates_both_tokens(shop_client, shop_settings, db, fake, user, database_url):
    connect(shop_client, fake, user)
    old_access, old_refresh = (credential(database_url, user.id, k) for k in ("access_token", "refresh_token"))
    expire_soon(database_url, user.id)
    tokens.refresh_due_tokens(worker_context(shop_settings, db))
    new_access, new_refresh = (credential(database_url, user.id, k) for k in ("access_token", "refresh_token"))
    assert new_access != old_access and new_refresh != old_refresh
    row = integration(database_url, user.id)
    assert row["status"] == "connected" and row["token_expires_at"] > datetime.now(timezone.utc) + timedelta(minutes=50)
    # Not due any more: a second run leaves it alone.
    tokens.refresh_due_tokens(worker_context(shop_settings, db))
    assert credential(database_url, user.id, "access_token") == new_access


def test_a_refused_refresh_marks_the_integration_expired(shop_client, shop_settings, db, fake, user, database_url):
    connect(shop_client, fake, user)
    fake.refresh_tokens.clear()  # Shopify no longer honours our refresh token
    expire_soon(database_url, user.id)
    tokens.refresh_due_tokens(worker_context(shop_settings, db))
    row = integration(database_url, user.id)
    assert row["status"] == "expired" and "reconnect" in row["last_error"].lower()


def test_a_call_with_a_token_about_to_expire_refreshes_first(shop_client, shop_settings, db, fake, user,
                                                             database_url):
    connect(shop_client, fake, user)
    old_access = credential(database_url, user.id, "access_token")
    expire_soon(database_url, user.id, minutes=2)
    refresher = shopify_refresher(shop_settings)
    assert refresher is not None
    fresh = tokens.access_token(db, refresher, user.id, reader="tests")
    assert fresh != old_access and fresh == credential(database_url, user.id, "access_token")


# --- disconnect -----------------------------------------------------------------------------


def test_disconnect_deletes_the_subscriptions_then_the_token(shop_client, shop_settings, db, fake, user,
                                                             database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)
    response = shop_client.delete("/api/integrations/shopify", headers=user.headers)
    assert response.status_code == 200 and response.json["status"] == "disconnected"
    assert credential(database_url, user.id, "access_token") is not None  # the clean-up still needs it
    ran = run_queued(shop_settings, db)
    assert [(r.operation_type, r.error) for r in ran] == [("shopify.disconnect_cleanup", None)]
    assert fake.shops[SHOP].webhooks == {}
    assert sql(database_url, "select count(*) from public.shopify_webhooks where user_id = %s", [user.id])[0][0] == 0
    assert credential(database_url, user.id, "access_token") is None
    assert credential(database_url, user.id, "refresh_token") is None
    assert sql(database_url, "select count(*) from vault.secrets")[0][0] == 0


@pytest.mark.parametrize("refresh_honoured", [True, False])
def test_a_clean_up_that_must_refresh_first_leaves_the_integration_disconnected(
        shop_client, shop_settings, db, fake, user, database_url, refresh_honoured):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    shop_client.delete("/api/integrations/shopify", headers=user.headers)
    expire_soon(database_url, user.id, minutes=2)  # inside the refresh window: the clean-up refreshes first
    if not refresh_honoured:
        fake.refresh_tokens.clear()
    ran = run_queued(shop_settings, db)
    assert [(r.operation_type, r.error) for r in ran] == [("shopify.disconnect_cleanup", None)]
    assert integration(database_url, user.id)["status"] == "disconnected"
    assert credential(database_url, user.id, "access_token") is None
    assert sql(database_url, "select count(*) from vault.secrets")[0][0] == 0
    if refresh_honoured:
        assert fake.shops[SHOP].webhooks == {}


def test_a_reconnect_before_the_clean_up_runs_keeps_the_new_connection(shop_client, shop_settings, db, fake, user,
                                                                      database_url):
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    shop_client.delete("/api/integrations/shopify", headers=user.headers)
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    assert integration(database_url, user.id)["status"] == "connected"
    assert credential(database_url, user.id, "access_token") is not None
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)


# --- one shop per account, one account per shop ----------------------------------------------


def test_a_shop_another_account_holds_cannot_be_taken_over(shop_client, fake, make_user, database_url):
    owner, intruder = make_user(), make_user()
    # The intruder's flow began while the shop was free (a link sent to the shop's owner, say).
    intruders_state = begin(shop_client, intruder)
    connect(shop_client, fake, owner)
    owners_token = credential(database_url, owner.id, "access_token")

    response = shop_client.get(callback_path(fake.approve(SHOP, intruders_state, "http://hub.test" + CALLBACK)))
    assert settled(shop_client, response, intruder) == {"error": "shop_in_use"}
    assert credential(database_url, intruder.id, "access_token") is None
    assert integration(database_url, owner.id)["status"] == "connected"
    assert credential(database_url, owner.id, "access_token") == owners_token
    assert sql(database_url, "select user_id::text from public.shopify_shops") == [(owner.id,)]



def test_install_says_nothing_about_whether_another_account_holds_a_shop(shop_client, fake, make_user,
                                                                          database_url):
    owner, curious = make_user(), make_user()
    connect(shop_client, fake, owner)
    held = shop_client.get(f"/api/integrations/shopify/install?shop={SHOP}&format=json", headers=curious.headers)
    free = shop_client.get("/api/integrations/shopify/install?shop=nobody-here.myshopify.com&format=json",
                           headers=curious.headers)
    # The same answer for a shop another account holds and one nobody does: a consent URL.
    assert (held.status_code, free.status_code) == (200, 200)
    assert set(held.json) == set(free.json) == {"authorize_url"}
    assert f"/shops/{SHOP}/admin/oauth/authorize?" in held.json["authorize_url"]
    # Only once Shopify's signed redirect shows that the user administers the shop is it refused.
    state = dict(parse_qsl(urlsplit(held.json["authorize_url"]).query))["state"]
    response = shop_client.get(callback_path(fake.approve(SHOP, state, "http://hub.test" + CALLBACK)))
    held_flow = outcome(response)  # a JSON API flow waits for its user's confirmation
    refused = shop_client.post("/api/integrations/shopify/confirm", json={"confirmation": held_flow["confirm"]},
                               headers=curious.headers)
    assert refused.status_code == 409 and refused.json["error"] == "shop_in_use"
    assert not [r for r in fake.requests if r["op"] == "token" and r.get("shop") == SHOP][1:]  # no second grant
    assert sql(database_url, "select user_id::text from public.shopify_shops") == [(owner.id,)]


def test_a_released_shop_can_move_to_another_account(shop_client, shop_settings, db, fake, make_user, database_url):
    first, second = make_user(), make_user()
    connect(shop_client, fake, first)
    shop_client.delete("/api/integrations/shopify", headers=first.headers)
    connect(shop_client, fake, second)
    assert sql(database_url, "select user_id::text from public.shopify_shops") == [(second.id,)]


def test_an_account_switches_shops_only_through_a_disconnect(shop_client, fake, user, database_url):
    connect(shop_client, fake, user)
    other = "other-prints.myshopify.com"
    refused = shop_client.get(f"/api/integrations/shopify/install?shop={other}&format=json", headers=user.headers)
    assert refused.status_code == 409 and refused.json["error"] == "another_shop_connected"
    assert SHOP in refused.json["message"]
    assert integration(database_url, user.id)["status"] == "connected"
    shop_client.delete("/api/integrations/shopify", headers=user.headers)
    assert shop_client.get(f"/api/integrations/shopify/install?shop={other}&format=json",
                           headers=user.headers).status_code == 200


def test_registration_is_not_fooled_by_rows_of_a_shop_held_before(shop_client, shop_settings, db, fake, user,
                                                                   database_url):
    # A clean-up that never ran left another shop's subscription rows behind.
    sql(database_url, "insert into public.shopify_webhooks (user_id, shop_domain, shopify_webhook_id, topic, address)"
                      " values (%s, 'old-prints.myshopify.com', 'gid://shopify/WebhookSubscription/1',"
                      " 'orders/create', 'http://hub.test/api/webhooks/shopify')", [user.id])
    connect(shop_client, fake, user)
    run_queued(shop_settings, db)
    assert len(fake.shops[SHOP].webhooks) == len(WEBHOOK_TOPICS)
    assert sql(database_url, "select count(*), count(*) filter (where shop_domain = %s)"
                             " from public.shopify_webhooks", [SHOP]) == \
        [(len(WEBHOOK_TOPICS), len(WEBHOOK_TOPICS))]
