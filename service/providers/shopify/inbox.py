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
    """One request's delivery: its outcome to come, and whether it has been made the writer.

    Each request waits on its own event, set when its outcome is known or when it is made the
    writer: a batch written wakes exactly the requests it answered (a shared condition would wake
    every waiting thread, and each would take the GIL only to go back to sleep).
    """

    def __init__(self, item: str) -> None:
        self.item = item
        self.status: str | None = None
        self.error: BaseException | None = None
        self.leads = False
        self.woken = threading.Event()

    def settle(self, status: str | None = None, error: BaseException | None = None) -> None:
        self.status, self.error = status, error
        self.woken.set()

    @property
    def settled(self) -> bool:
        return self.status is not None or self.error is not None

    def outcome(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.status is not None
        return self.status


class DeliveryBatcher:
    def __init__(self, db: Database, max_batch: int = 200, wait_seconds: float = 30.0) -> None:
        self.db = db
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._pending: list[_Waiting] = []
        self._writing = False

    def accept(self, delivery: dict[str, Any], payload_json: str) -> str:
        """Records one delivery (its body as validated JSON text); returns accepted/duplicate/unknown_shop."""
        # The body joins the batch as the text it arrived as: no second serialisation.
        mine = _Waiting(json.dumps(delivery)[:-1] + ', "payload": ' + payload_json + "}")
        with self._lock:
            self._pending.append(mine)
            if not self._writing:
                self._writing = mine.leads = True
        if not mine.leads and not mine.woken.wait(self.wait_seconds):
            with self._lock:
                # Neither taken into a batch nor made the writer: it can leave cleanly.
                if not mine.leads and mine in self._pending:
                    self._pending.remove(mine)
                    raise TimeoutError("the webhook inbox write did not finish in time")
            mine.woken.wait()  # made the writer, or taken into a batch whose write is under way
        if not mine.settled:
            self._write_until_recorded(mine)
        return mine.outcome()

    def _write_until_recorded(self, mine: _Waiting) -> None:
        try:
            while not mine.settled:
                with self._lock:
                    batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                self._write(batch)
        finally:
            with self._lock:
                if self._pending:
                    successor = self._pending[0]  # the oldest waiting request writes next
                    successor.leads = True
                    successor.woken.set()
                else:
                    self._writing = False

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            statuses = self._call([waiting.item for waiting in batch])
        except psycopg.Error as exc:
            if _bad_input(exc) and len(batch) > 1:
                for single in batch:  # find the bad one; the others go through
                    self._write([single])
                return
            failure: Exception = DeliveryRefused(exc.diag.message_primary or "refused") \
                if _bad_input(exc) else exc
            for waiting in batch:
                waiting.settle(error=failure)
            return
        except Exception as exc:  # the database is unreachable: every waiting request fails (5xx)
            log.warning("webhook inbox write failed: %s", type(exc).__name__)
            for waiting in batch:
                waiting.settle(error=exc)
            return
        for waiting, status in zip(batch, statuses):
            waiting.settle(status=status)

    def _call(self, items: list[str]) -> list[str]:
        row = self.db.call_as_service(ACCEPT, ["[" + ",".join(items) + "]"])
        assert row is not None
        return list(row["statuses"])
