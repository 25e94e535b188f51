"""Group commit for webhook deliveries.

Concurrent requests combine their deliveries into one statement and one commit (with one NOTIFY,
which serialises committing transactions) instead of one each. The request that finds no write
under way becomes the writer: it writes everything pending, its own delivery included, and
answers the others; requests arriving meanwhile wait for the next write. No request is answered
before its delivery is committed, nothing is held past that, and there is no timer or extra
thread: a lone delivery is written at once by its own request. Followers are at most the
server's other request threads, so a writer's loop is short.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future
from typing import Any

import psycopg

from ..db import Database

log = logging.getLogger(__name__)
ACCEPT = "select public.accept_shopify_webhooks(%s::jsonb) as statuses"
# Data errors a single bad delivery can cause; the batch is then retried one by one.
DATA_ERRORS = {"22P02", "22P05", "22023", "22021", "22007", "22008"}


class DeliveryRefused(ValueError):
    """The database refused this one delivery's data (e.g. JSON that Postgres cannot hold)."""


class DeliveryBatcher:
    def __init__(self, db: Database, max_batch: int = 200, wait_seconds: float = 30.0) -> None:
        self.db = db
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Future[str]]] = []
        self._writing = False

    def accept(self, delivery: dict[str, Any], payload_json: str) -> str:
        """Records one delivery (its body as validated JSON text); returns accepted/duplicate/unknown_shop."""
        # The body joins the batch as the text it arrived as: no second serialisation.
        item = json.dumps(delivery)[:-1] + ', "payload": ' + payload_json + "}"
        future: Future[str] = Future()
        with self._lock:
            self._pending.append((item, future))
            lead = not self._writing
            self._writing = True
        if lead:
            self._write_pending()
        return future.result(timeout=self.wait_seconds)

    def _write_pending(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                if not batch:
                    self._writing = False
                    return
            self._write(batch)

    def _write(self, batch: list[tuple[str, Future[str]]]) -> None:
        try:
            statuses = self._call([item for item, _ in batch])
        except psycopg.Error as exc:
            if exc.sqlstate in DATA_ERRORS and len(batch) > 1:
                for single in batch:  # find the bad one; the others go through
                    self._write([single])
                return
            failure: Exception = DeliveryRefused(exc.diag.message_primary or "refused") \
                if exc.sqlstate in DATA_ERRORS else exc
            for _, future in batch:
                future.set_exception(failure)
            return
        except Exception as exc:  # the database is unreachable: every waiting request fails (5xx)
            log.warning("webhook inbox write failed: %s", type(exc).__name__)
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), status in zip(batch, statuses):
            future.set_result(status)

    def _call(self, items: list[str]) -> list[str]:
        row = self.db.call_as_service(ACCEPT, ["[" + ",".join(items) + "]"])
        assert row is not None
        return list(row["statuses"])
