"""Group commit for webhook deliveries.

Each request hands its verified delivery to the process's batcher and waits. One thread writes
whatever has arrived since its last write in a single statement and a single commit, then
answers every waiting request with its own outcome: no request is answered before its delivery
is committed, nothing is held in memory past that, and a burst of deliveries costs one round
trip and one commit (with one NOTIFY, which serialises committing transactions) instead of one
each. There is no timer: a lone delivery is written at once.
"""
from __future__ import annotations

import json
import logging
import os
import queue
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
        self._pending: queue.SimpleQueue[tuple[str, Future[str]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._writer_pid = 0

    def accept(self, delivery: dict[str, Any], payload_json: str) -> str:
        """Records one delivery (its body as validated JSON text); returns accepted/duplicate/unknown_shop."""
        # The body joins the batch as the text it arrived as: no second serialisation.
        item = json.dumps(delivery)[:-1] + ', "payload": ' + payload_json + "}"
        future: Future[str] = Future()
        self._pending.put((item, future))
        self._ensure_writer()
        return future.result(timeout=self.wait_seconds)

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer_pid == os.getpid() and self._writer.is_alive():
            return
        with self._lock:
            if self._writer is None or self._writer_pid != os.getpid() or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_forever, name="webhook-inbox", daemon=True)
                self._writer_pid = os.getpid()
                self._writer.start()

    def _write_forever(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
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
