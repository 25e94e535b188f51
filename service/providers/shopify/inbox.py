"""Group commit for webhook deliveries.

Concurrent requests combine their deliveries into one statement and one commit (with one NOTIFY,
which serialises committing transactions) instead of one each. The request that finds no write
under way becomes the writer: it writes what is pending, its own delivery included, and answers
the others; requests arriving meanwhile wait. Once its own delivery is committed the writer
hands the role to the oldest waiting request and goes back to its own answer, so under a steady
stream no request writes for others for ever (Shopify gives up on an answer after 5 seconds).
No request is answered before its delivery is committed, and there is no timer or extra thread:
a lone delivery is written at once by its own request.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future
from typing import Any

import psycopg

from ...db import Database
from ...errors import HavenError, sqlstate_of

log = logging.getLogger(__name__)
ACCEPT = "select public.accept_shopify_webhooks(%s::jsonb) as statuses"


# SQLSTATE classes that only the data written can cause: data exceptions (a value Postgres cannot
# hold or read) and program limits (a value too large or too deep for it), whether or not
# service/errors.py declares the exact code.
_DATA_CLASSES = ("22", "54")


def _bad_input(exc: psycopg.Error) -> bool:
    """One delivery's data at fault (e.g. JSON Postgres cannot hold): the batch is then written one
    by one, so that delivery alone is refused and its batch-mates are recorded."""
    meaning = sqlstate_of(exc)
    return (meaning is not None and meaning.bad_input) or (exc.sqlstate or "")[:2] in _DATA_CLASSES


class DeliveryRefused(HavenError):
    """The database refused this one delivery's data (e.g. JSON that Postgres cannot hold)."""


class _Waiting:
    """One request's delivery: its result to come, and whether it has been made the writer."""

    def __init__(self, item: str) -> None:
        self.item = item
        self.result: Future[str] = Future()
        self.leads = False


class DeliveryBatcher:
    def __init__(self, db: Database, max_batch: int = 200, wait_seconds: float = 30.0) -> None:
        self.db = db
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self._changed = threading.Condition()
        self._pending: list[_Waiting] = []
        self._writing = False

    def accept(self, delivery: dict[str, Any], payload_json: str) -> str:
        """Records one delivery (its body as validated JSON text); returns accepted/duplicate/unknown_shop."""
        # The body joins the batch as the text it arrived as: no second serialisation.
        mine = _Waiting(json.dumps(delivery)[:-1] + ', "payload": ' + payload_json + "}")
        with self._changed:
            self._pending.append(mine)
            if not self._writing:
                self._writing = mine.leads = True
            elif not self._changed.wait_for(lambda: mine.result.done() or mine.leads, self.wait_seconds):
                if mine in self._pending:  # never taken into a batch: it can leave cleanly
                    self._pending.remove(mine)
                raise TimeoutError("the webhook inbox write did not finish in time")
        if not mine.result.done():
            self._write_until_recorded(mine)
        return mine.result.result()

    def _write_until_recorded(self, mine: _Waiting) -> None:
        try:
            while not mine.result.done():
                with self._changed:
                    batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                self._write([(waiting.item, waiting.result) for waiting in batch])
                with self._changed:
                    self._changed.notify_all()
        finally:
            with self._changed:
                if self._pending:
                    self._pending[0].leads = True  # the oldest waiting request writes next
                else:
                    self._writing = False
                self._changed.notify_all()

    def _write(self, batch: list[tuple[str, Future[str]]]) -> None:
        try:
            statuses = self._call([item for item, _ in batch])
        except psycopg.Error as exc:
            if _bad_input(exc) and len(batch) > 1:
                for single in batch:  # find the bad one; the others go through
                    self._write([single])
                return
            failure: Exception = DeliveryRefused(exc.diag.message_primary or "refused") \
                if _bad_input(exc) else exc
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
