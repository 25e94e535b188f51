"""Group commit of webhook deliveries: concurrent deliveries each recorded exactly once, and one
delivery the database refuses fails alone instead of taking its batch down."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from service.providers.shopify.inbox import DeliveryBatcher, DeliveryRefused, _Waiting

from .support.queue import wait_until

SHOP = "inbox-test.myshopify.com"


@pytest.fixture
def owner(user, database_url):  # type: ignore[no-untyped-def]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.claim_shopify_shop(%s, %s)", [user.id, SHOP])
    return user


def delivery(n: int) -> dict:
    return {"webhook_id": f"wh-{n}", "topic": "orders/create", "shop_domain": SHOP}


def test_concurrent_deliveries_are_each_recorded_and_queued_once(db, owner, database_url):
    batcher = DeliveryBatcher(db)
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda n: batcher.accept(delivery(n % 300), json.dumps({"id": n % 300})),
                                 range(600)))
    assert statuses.count("accepted") == 300 and statuses.count("duplicate") == 300
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*), count(distinct webhook_id) from public.shopify_webhook_events"
                            ).fetchone() == (300, 300)
        assert conn.execute("select count(*) from public.retry_queue").fetchone() == (300,)


def test_a_delivery_the_database_refuses_fails_alone(db, owner, database_url):
    batcher = DeliveryBatcher(db)
    bodies = ['{"id": 1}', '{"note": "\\u0000 is not storable in jsonb"}', '{"id": 3}']
    batch = [_Waiting(json.dumps(delivery(n))[:-1] + ', "payload": ' + body + "}") for n, body in enumerate(bodies)]
    batcher._write(batch)  # one batch, as the writer would form it
    assert batch[0].outcome() == "accepted" and batch[2].outcome() == "accepted"
    with pytest.raises(DeliveryRefused):
        batch[1].outcome()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.shopify_webhook_events").fetchone() == (2,)


def test_an_unstorable_body_is_a_400_through_the_endpoint(shop_client, fake, connected, database_url):
    from service.providers.shopify.client import webhook_hmac

    body = b'{"id": 1, "note": "\\u0000"}'
    _, headers = fake.signed_webhook("orders/create", "haven-prints.myshopify.com", {})
    headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(body, fake.client_secret)
    response = shop_client.post("/api/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_webhook"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.shopify_webhook_events").fetchone() == (0,)


class HeldWriter(DeliveryBatcher):
    """Records which thread wrote which batch; the first write waits until two more deliveries queue."""

    def __init__(self) -> None:
        super().__init__(db=None, wait_seconds=30)  # type: ignore[arg-type]
        self.writes: list[tuple[str, int]] = []
        self.others: list[threading.Thread] = []

    def _call(self, items: list[str]) -> list[str]:
        self.writes.append((threading.current_thread().name, len(items)))
        if len(self.writes) == 1:
            for n in (2, 3):
                other = threading.Thread(target=self.accept, args=(delivery(n), "{}"), name=f"request-{n}")
                other.start()
                self.others.append(other)
            wait_until(lambda: len(self._pending) == 2, timeout=10, what="two deliveries waiting")
        return ["accepted"] * len(items)


def test_the_writer_hands_over_once_its_own_delivery_is_recorded() -> None:
    batcher = HeldWriter()
    first = threading.Thread(target=batcher.accept, args=(delivery(1), "{}"), name="request-1")
    first.start()
    first.join(10)
    for other in batcher.others:
        other.join(10)
    # request-1 wrote its own delivery and left; a waiting request wrote the other two.
    assert batcher.writes[0] == ("request-1", 1)
    assert len(batcher.writes) == 2 and batcher.writes[1][0] != "request-1" and batcher.writes[1][1] == 2
    assert batcher._pending == [] and not batcher._writing


def test_a_writer_that_dies_hands_over_instead_of_blocking_everyone() -> None:
    class Dying(DeliveryBatcher):
        def _call(self, items: list[str]) -> list[str]:
            raise KeyboardInterrupt  # not an Exception: escapes the per-batch error handling

    batcher = Dying(db=None)  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        batcher.accept(delivery(1), "{}")
    assert not batcher._writing  # the next delivery is written at once, not after a 30 s wait


def test_a_request_made_the_writer_as_its_wait_runs_out_still_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hand-over and the waiting request's deadline meet: it must take the role it was given
    # (leaving would leave the inbox with a writer that never writes), not time out.
    class Handing(DeliveryBatcher):
        def __init__(self) -> None:
            super().__init__(db=None, wait_seconds=0)  # type: ignore[arg-type]
            self.written: list[int] = []

        def _call(self, items: list[str]) -> list[str]:
            self.written.append(len(items))
            return ["accepted"] * len(items)

    batcher = Handing()
    batcher._writing = True  # a writer is busy: the request below queues and its wait runs out at once
    waiting = _Waiting("{}")
    original_wait = waiting.woken.wait

    def handed_over_at_the_deadline(timeout: float | None = None) -> bool:
        if timeout is not None:  # the deadline passes; meanwhile the busy writer hands over to it
            with batcher._lock:
                waiting.leads = True
                waiting.woken.set()
            return False
        return original_wait()

    monkeypatch.setattr(waiting.woken, "wait", handed_over_at_the_deadline)
    monkeypatch.setattr("service.providers.shopify.inbox._Waiting", lambda item: waiting)
    assert batcher.accept(delivery(1), "{}") == "accepted"
    assert batcher.written == [1] and batcher._pending == [] and not batcher._writing


# --- input no delivery may turn into a 500, or into its batch-mates' failure (issue 15) ----------

def signed(fake, body: bytes, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from service.providers.shopify.client import webhook_hmac

    _, headers = fake.signed_webhook("orders/create", "haven-prints.myshopify.com", {})
    headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(body, fake.client_secret)
    return {**headers, **extra}


def test_a_body_nested_5000_deep_is_a_400(shop_client, fake, connected, database_url):
    body = b"[" * 5000 + b"]" * 5000
    response = shop_client.post("/api/webhooks/shopify", data=body, headers=signed(fake, body))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json == {"error": "invalid_webhook", "message": "the webhook body is nested too deeply"}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.shopify_webhook_events").fetchone() == (0,)


@pytest.mark.parametrize("triggered_at", ["0001-01-01T00:00:00-23:59", "0001-01-01T00:00:00+23:59", "yesterday",
                                          "2026-13-45T00:00:00Z"])
def test_a_triggered_at_postgres_cannot_hold_is_a_400_for_that_delivery(shop_client, fake, connected, database_url,
                                                                        triggered_at):
    body = b'{"id": 1}'
    response = shop_client.post("/api/webhooks/shopify", data=body,
                                headers=signed(fake, body, **{"X-Shopify-Triggered-At": triggered_at}))
    assert response.status_code == 400 and response.json["error"] == "invalid_webhook"
    assert "X-Shopify-Triggered-At" in response.json["message"]


def test_a_triggered_at_with_any_offset_is_stored_as_its_instant(shop_client, fake, connected, database_url):
    body = b'{"id": 1}'
    response = shop_client.post("/api/webhooks/shopify", data=body, headers=signed(
        fake, body, **{"X-Shopify-Triggered-At": "2026-11-20T23:30:00.123456789-11:59"}))
    assert response.status_code == 200
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("select triggered_at at time zone 'UTC' from public.shopify_webhook_events").fetchone()
    assert stored is not None and stored[0].isoformat() == "2026-11-21T11:29:00.123456"


def test_any_data_error_of_one_delivery_fails_it_alone(db, owner, database_url):
    # An offset Postgres refuses (22009), a year it cannot hold (22008): written as a batch with
    # good deliveries, whatever the Python side let through.
    batcher = DeliveryBatcher(db)
    triggered = [None, "0001-01-01T00:00:00-23:59", "20000000-01-01T00:00:00Z", None]
    batch = [_Waiting(json.dumps({**delivery(n), "triggered_at": at})[:-1] + ', "payload": {}}')
             for n, at in enumerate(triggered)]
    batcher._write(batch)
    assert batch[0].outcome() == "accepted" and batch[3].outcome() == "accepted"
    for refused in batch[1:3]:
        with pytest.raises(DeliveryRefused):
            refused.outcome()


def test_the_inbox_splits_on_every_data_error_class_not_only_declared_codes(database_url):
    from service.providers.shopify.inbox import _bad_input

    def raised(statement: str) -> psycopg.Error:
        with psycopg.connect(database_url) as conn, pytest.raises(psycopg.Error) as caught:
            conn.execute(statement)
        return caught.value

    assert _bad_input(raised("do $$ begin raise exception 'x' using errcode = '22012'; end $$"))
    assert _bad_input(raised("do $$ begin raise exception 'x' using errcode = '54001'; end $$"))
    assert not _bad_input(raised("do $$ begin raise exception 'x' using errcode = '57014'; end $$"))
