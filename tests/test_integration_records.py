"""The Python building blocks the OAuth and token-refresh work reuses: records.py, oauth_state.py, vault.py."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from service import vault
from service.integrations import records
from service.integrations.oauth_state import OAuthStateError, begin_oauth, consume_oauth_state
from service.integrations.records import TokenSet

from .support.queue import wait_for_a_lock_waiter


def test_oauth_connect_then_refresh_stores_tokens_atomically(db, user, database_url):
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    with db.as_service() as conn:
        records.mark_connecting(conn, user.id, "pinterest")
        row = records.mark_connected(conn, user.id, "pinterest", metadata={"account_name": "haven"},
                                     credentials=TokenSet("pina_1", "pinr_1", expires).as_credentials(),
                                     token_expires_at=expires)
    assert row["status"] == "connected" and row["token_expires_at"] == expires
    later = expires + timedelta(days=30)
    with db.as_service() as conn:
        refreshed = records.store_tokens(conn, user.id, "pinterest", TokenSet("pina_2", "pinr_2", later))
    assert refreshed["token_expires_at"] == later and refreshed["last_refreshed_at"] is not None
    with db.as_service() as conn:
        assert vault.get_credential(conn, user.id, "pinterest", "access_token", reader="tests", purpose="check") == "pina_2"
        assert vault.get_credential(conn, user.id, "pinterest", "refresh_token", reader="tests", purpose="check") == "pinr_2"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from vault.secrets where name like %s",
                            [f"%{user.id}%"]).fetchone()[0] == 2


def test_a_failure_mid_transaction_stores_nothing(db, user):
    with pytest.raises(RuntimeError), db.as_service() as conn:
        records.mark_connected(conn, user.id, "pinterest", metadata={},
                               credentials={"access_token": "pina_1", "refresh_token": "pinr_1"})
        raise RuntimeError("the provider call after storing failed")
    with db.as_service() as conn:
        assert vault.get_credential(conn, user.id, "pinterest", "access_token", reader="tests", purpose="check") is None
        assert records.lock(conn, user.id, "pinterest") is None


def test_token_set_repr_hides_tokens():
    assert "pina_secret" not in repr(TokenSet("pina_secret", "pinr_secret"))


def test_mark_connecting_keeps_a_working_connection(db, user):
    with db.as_service() as conn:
        records.mark_connected(conn, user.id, "shopify", metadata={"shop_domain": "a.myshopify.com"},
                               credentials={"access_token": "shpat_1"})
        row = records.mark_connecting(conn, user.id, "shopify")
    assert row["status"] == "connected" and row["metadata"] == {"shop_domain": "a.myshopify.com"}


def test_mark_error_and_expired(db, user):
    with db.as_service() as conn:
        records.mark_connected(conn, user.id, "pinterest", metadata={}, credentials={"access_token": "a"})
        row = records.mark_error(conn, user.id, "pinterest", "refresh token revoked", status="expired")
    assert row["status"] == "expired" and row["last_error"] == "refresh token revoked"


def test_oauth_state_round_trip_and_reasons(db, user):
    with db.as_service() as conn:
        state = begin_oauth(conn, user.id, "shopify", "demo.myshopify.com")
        other = begin_oauth(conn, user.id, "pinterest")
    with db.as_service() as conn:
        assert consume_oauth_state(conn, "shopify", state, "demo.myshopify.com").user_id == user.id
    cases = [("shopify", state, "demo.myshopify.com", "used"), ("shopify", "forged", None, "unknown"),
             ("shopify", other, "demo.myshopify.com", "other_provider")]
    for provider, raw, shop, reason in cases:
        with db.as_service() as conn:
            with pytest.raises(OAuthStateError) as refused:
                consume_oauth_state(conn, provider, raw, shop)
            # The refusal ran in a savepoint: the transaction goes on.
            conn.execute("select 1")
        assert refused.value.reason == reason and refused.value.status == 400
        assert raw not in refused.value.message


def test_oauth_state_other_shop_and_expired(db, user, database_url):
    with db.as_service() as conn:
        state = begin_oauth(conn, user.id, "shopify", "demo.myshopify.com")
    with db.as_service() as conn, pytest.raises(OAuthStateError) as other_shop:
        consume_oauth_state(conn, "shopify", state, "evil.myshopify.com")
    assert other_shop.value.reason == "other_shop"
    with psycopg.connect(database_url) as conn:
        conn.execute("update public.oauth_states set expires_at = now() - interval '1 minute'")
    with db.as_service() as conn, pytest.raises(OAuthStateError) as expired:
        consume_oauth_state(conn, "shopify", state, "demo.myshopify.com")
    assert expired.value.reason == "expired"


def test_a_store_racing_a_deletion_is_not_lost(user, database_url):
    def service_connection() -> psycopg.Connection:
        conn = psycopg.connect(database_url)
        conn.execute("set role service_role")
        return conn

    with service_connection() as setup:
        setup.execute("select public.store_credential(%s, 'klaviyo', 'api_key', 'old-key')", [user.id])
        setup.commit()
    deleting = service_connection()
    deleting.execute("select public.delete_credentials(%s, 'klaviyo')", [user.id])  # not committed yet
    stored: list[BaseException | None] = []

    def store() -> None:
        with service_connection() as conn:
            try:
                conn.execute("select public.store_credential(%s, 'klaviyo', 'api_key', 'new-key')", [user.id])
                conn.commit()
                stored.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                stored.append(exc)

    storing = threading.Thread(target=store)
    storing.start()
    wait_for_a_lock_waiter(database_url, what="the store to wait for the deletion")
    deleting.commit()
    deleting.close()
    storing.join(30)
    assert stored == [None]
    with service_connection() as conn:
        assert conn.execute("select public.get_credential(%s, 'klaviyo', 'api_key', 'tests', 'check')",
                            [user.id]).fetchone()[0] == "new-key"


