"""Postgres restarted under webhook load: no acknowledged delivery is lost, and the service and
the worker carry on by themselves. On a cluster of its own, since the test restarts it."""
from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
import requests

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.testing import migrated_template, throwaway_cluster

from .fakes.server import serve
from .fakes.shopify import FakeShopify
from .support.db import sql
from .support.queue import start_worker, wait_until

SHOP = "restart-prints.myshopify.com"
SENDERS = 4
BEFORE, AFTER = 40, 40  # acknowledged deliveries to see before the restart, and after it


@pytest.fixture
def own_cluster_url() -> Iterator[tuple[object, str]]:
    with throwaway_cluster("haven-faults-") as cluster:
        yield cluster, migrated_template(cluster, "faults")


def test_a_restart_under_webhook_load_loses_no_acknowledged_delivery(own_cluster_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster, url = own_cluster_url
    user_id = str(uuid.uuid4())
    sql(url, "insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated',"
             " 'restart@example.test')", [user_id])
    # A connected shop: deliveries are applied to its orders, not ignored.
    with psycopg.connect(url) as conn:
        conn.execute("set local role service_role")
        conn.execute("select public.store_credential(%s, 'shopify', 'access_token', 'token')", [user_id])
    sql(url, "update public.integrations set status = 'connected', metadata = jsonb_build_object('shop_domain', %s::text)"
             " where user_id = %s and provider = 'shopify'", [SHOP, user_id])
    sql(url, "select public.claim_shopify_shop(%s, %s)", [user_id, SHOP])
    fake = FakeShopify()
    settings = replace(Settings.from_env(environ={}, env_file=tmp_path / "absent.env"), database_url=url,
                       shopify_client_id=fake.client_id, shopify_client_secret=fake.client_secret,
                       state_dir=tmp_path / "state")
    db = Database(url, min_size=1, max_size=4)
    # An item claimed when the restart cut the worker off is rescued and retried: with seconds, not
    # the defaults' minutes, so the test's wait stays far inside its bound.
    worker = start_worker(url, tmp_path / "worker.log", HAVEN_QUEUE_RESCUE_TIMEOUT_SECONDS="2",
                          HAVEN_QUEUE_RESCUE_EVERY_SECONDS="1", HAVEN_WORKER_HEARTBEAT_SECONDS="0.5",
                          HAVEN_QUEUE_BACKOFF_BASE_SECONDS="0.1", HAVEN_QUEUE_BACKOFF_CAP_SECONDS="1")
    answers: list[tuple[str, int, str | None]] = []  # webhook id, status, receipt
    lock, stop = threading.Lock(), threading.Event()
    numbers = itertools.count()

    def send(base: str) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                webhook_id = f"restart-{next(numbers)}"
                order = {"id": 1000 + int(webhook_id.rsplit("-", 1)[1]), "email": "a@example.test",
                         "updated_at": "2026-11-20T10:00:00Z", "total_price": "1.00"}
                body, headers = fake.signed_webhook("orders/create", SHOP, order, webhook_id=webhook_id)
                try:
                    response = session.post(base + "/api/webhooks/shopify", data=body, headers=headers, timeout=30)
                    answer = (webhook_id, response.status_code,
                              response.json().get("status") if response.status_code == 200 else None)
                except requests.RequestException:
                    answer = (webhook_id, 0, None)
                with lock:
                    answers.append(answer)

    def acknowledged() -> int:
        with lock:
            return sum(status == 200 for _, status, _ in answers)

    try:
        with serve(create_app(settings, database=db)) as base:
            senders = [threading.Thread(target=send, args=(base,)) for _ in range(SENDERS)]
            for thread in senders:
                thread.start()
            wait_until(lambda: acknowledged() >= BEFORE, what="deliveries before the restart")
            cluster.stop()  # fast shutdown: every connection of the service and the worker breaks
            cluster.start()
            before_restart = acknowledged()
            wait_until(lambda: acknowledged() >= before_restart + AFTER, timeout=60,
                       what="the service to accept deliveries again by itself")
            stop.set()
            for thread in senders:
                thread.join(timeout=60)
        accepted = {webhook_id for webhook_id, status, receipt in answers if status == 200}
        assert len(accepted) < len(answers), "the restart refused nothing: it did not happen under load"
        assert all(receipt == "accepted" for _, status, receipt in answers if status == 200)
        stored = {row[0] for row in sql(url, "select webhook_id from public.shopify_webhook_events")}
        assert accepted <= stored, f"acknowledged but lost: {sorted(accepted - stored)[:5]}"
        # The worker reconnected by itself and processed every delivery it was given.
        wait_until(lambda: sql(url, "select count(*) from public.shopify_webhook_events"
                                    " where status <> 'processed'") == [(0,)],
                   timeout=120, what="the worker to process every stored delivery")
        applied = {row[0] for row in sql(url, "select shopify_order_id from public.customer_orders")}
        assert {str(1000 + int(webhook_id.rsplit("-", 1)[1])) for webhook_id in accepted} <= applied
    finally:
        stop.set()
        worker.terminate()
        worker.wait(timeout=60)
        db.close()
