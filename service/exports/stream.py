"""Streams an export from `COPY (SELECT …) TO STDOUT`, in bounded memory, and records it.

`open_export()` runs before the response starts, so everything that can be refused is refused
with a 400 while an error can still be an HTTP status: it opens one REPEATABLE READ transaction
as the caller (RLS draws the tenant boundary), counts the rows the file will hold — refusing a
range above the type's cap rather than cutting it silently — and writes the `export_history` row
(status `streaming`). Iterating the returned `ExportStream` runs the COPY in that same snapshot,
so the count sent in `X-Record-Count` is exactly what the body holds. The history row is
completed with the streamed count, or marked `failed` / `abandoned` (client went away). The read
transaction holds an advisory lock on the row's key until the outcome is recorded; if the process
dies first, the worker's sweep (`public.fail_orphaned_exports`) finds the lock free and marks the
row failed.

CSV: Postgres writes the rows (`FORMAT csv`: RFC 4180 quoting, NULL as an empty unquoted cell,
"" for an empty string); the header of field labels is written here with the csv module. Text
cells that a spreadsheet would run as a formula get a leading `'` in the SELECT list itself.
JSON: each row is `row_to_json(...)` copied in CSV mode with a delimiter and quote byte
(0x01, 0x02) that JSON text cannot contain (Postgres escapes every control character), so no
COPY escaping is applied and the bytes pass through untouched; rows are joined into an array.
"""
from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ..db import Database
from ..errors import BadRequest, TooManyRequests
from . import history
from .request import ExportRequest

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# Spreadsheet formula triggers (OWASP "CSV injection"): = + - @ tab CR.
_FORMULA_TEXT = sql.SQL("case when left({c}, 1) in ('=', '+', '-', '@', chr(9), chr(13))"
                        " then '''' || {c} else {c} end")


def _where(request: ExportRequest) -> sql.Composed:
    clauses = [sql.SQL("export_date >= {}").format(sql.Literal(request.start))]
    if request.end is not None:
        clauses.append(sql.SQL("export_date < {}").format(sql.Literal(request.end)))
    return sql.SQL(" and ").join(clauses)


def _source(request: ExportRequest, limit: int) -> sql.Composed:
    """FROM … WHERE … ORDER BY … LIMIT: newest first, ties broken by id so a limit is stable."""
    order = [sql.SQL("export_date desc")]
    if request.config.has_id:
        order.append(sql.SQL("id desc"))
    return sql.SQL("from {view} where {where} order by {order} limit {limit}").format(
        view=sql.Identifier("public", request.config.view), where=_where(request),
        order=sql.SQL(", ").join(order), limit=sql.Literal(limit))


def _csv_cell(kind: str, column: sql.Identifier) -> sql.Composable:
    if kind == "text":
        return _FORMULA_TEXT.format(c=column)
    if kind == "boolean":
        return sql.SQL("{}::text").format(column)
    return column


def copy_statement(request: ExportRequest) -> sql.Composed:
    limit = request.limit or request.max_records
    if request.format == "csv":
        cells = sql.SQL(", ").join(
            sql.SQL("{} as {}").format(_csv_cell(f.kind, sql.Identifier(f.key)), sql.Identifier(f.key))
            for f in request.fields)
        return sql.SQL("copy (select {cells} {source}) to stdout with (format csv)").format(
            cells=cells, source=_source(request, limit))
    columns = sql.SQL(", ").join(sql.Identifier(f.key) for f in request.fields)
    # row_to_json keeps the requested field order and writes compact JSON.
    return sql.SQL(
        "copy (select row_to_json(r)::text from (select {columns} {source}) as r)"
        " to stdout with (format csv, delimiter e'\\x01', quote e'\\x02')"
    ).format(columns=columns, source=_source(request, limit))


def count_statement(request: ExportRequest, at_most: int) -> sql.Composed:
    return sql.SQL("select count(*) as n from (select 1 {source}) as rows_in_range").format(
        source=_source(request, at_most))


def csv_header(request: ExportRequest) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([f.label for f in request.fields])
    return out.getvalue().encode()


def _coalesced(copy: psycopg.Copy) -> Iterator[bytes]:
    """COPY yields one small block per row; hand them on in chunks of about CHUNK_BYTES."""
    buffer = bytearray()
    for block in copy:
        buffer += block
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _json_array(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """One JSON object per line in, a JSON array out (commas between rows, none after the last)."""
    yield b"[\n"
    separator = b""
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        cut = data.rfind(b"\n") + 1  # only whole lines; a row split across chunks waits
        lines, pending = data[:cut], data[cut:]
        if lines:
            yield separator + lines[:-1].replace(b"\n", b",\n")
            separator = b",\n"
    if pending:
        yield separator + pending
    yield b"\n]\n"


class ExportStream:
    """The body of one export. Iterate it once; `close()` (WSGI servers call it) always ends the
    transaction and settles the history row, even when the body was never iterated."""

    def __init__(self, db: Database, stack: ExitStack, conn: psycopg.Connection[Any],
                 request: ExportRequest, history_id: str, expected_rows: int) -> None:
        self._db = db
        self._stack = stack
        self._conn = conn
        self.request = request
        self.history_id = history_id
        self.expected_rows = expected_rows
        self._iterator: Iterator[bytes] | None = None
        self._settled = False

    def __iter__(self) -> Iterator[bytes]:
        if self._iterator is None:
            self._iterator = self._generate()
        return self._iterator

    def _generate(self) -> Iterator[bytes]:
        try:
            with self._conn.cursor() as cursor:
                with cursor.copy(copy_statement(self.request)) as copy:
                    if self.request.format == "csv":
                        yield csv_header(self.request)
                        yield from _coalesced(copy)
                    else:
                        yield from _json_array(_coalesced(copy))
                rows = cursor.rowcount
        except GeneratorExit as exc:
            self._settle("abandoned", None, "the client stopped reading before the end", exc)
            raise
        except Exception as exc:
            log.exception("export %s failed while streaming", self.history_id)
            self._settle("failed", None, f"{type(exc).__name__}: {exc}"[:500], exc)
            raise
        self._settle("completed", rows, None)

    def _settle(self, status: str, rows: int | None, error: str | None,
                exc: BaseException | None = None) -> None:
        if self._settled:
            return
        self._settled = True
        try:
            # Recorded while the read transaction still holds the stream's lock, so the sweep of
            # orphaned exports (public.fail_orphaned_exports) never takes a finishing one for dead.
            history.settle(self._db, self.history_id, status, rows, error)
        finally:
            if exc is None:
                self._stack.close()
            else:  # rolled back
                self._stack.__exit__(type(exc), exc, exc.__traceback__)

    def close(self) -> None:
        if self._iterator is not None:
            self._iterator.close()  # runs the generator's own GeneratorExit handling
        self._settle("abandoned", None, "the response was closed before the body was sent")


def _take_stream_slot(conn: psycopg.Connection[Any], user_id: str, slots: int) -> None:
    """One of the user's `slots` stream slots, held until the read transaction ends (however it
    ends: a dead process releases it too). Each is a transaction-level advisory lock in a key
    space of its own (two int4 keys: the user's hash and the slot number)."""
    taken = conn.execute(
        "select slot from generate_series(1, %s) as slot"
        " where pg_try_advisory_xact_lock(hashtext('haven.export-slot:' || %s), slot) limit 1",
        [slots, user_id]).fetchone()
    if taken is None:
        raise TooManyRequests(f"{slots} of your exports are already streaming, the most at once: wait for one"
                              " to finish", code="too_many_exports")


def open_export(db: Database, claims: Mapping[str, Any], user_id: str, request: ExportRequest, *,
                statement_timeout_seconds: int, max_concurrent: int | None = None,
                scheduled_run: tuple[str, datetime] | None = None) -> ExportStream:
    """Begins the export as the caller; raises BadRequest when the range holds more than the cap.

    `max_concurrent`: how many exports of this user may stream at once (TooManyRequests past it;
    None: no cap, for the worker's scheduled runs and an operator's command).
    `scheduled_run` (schedule id, run time) links the history row to the scheduled run it builds.
    """
    stack = ExitStack()
    try:
        conn = stack.enter_context(db.as_user(claims, isolation=psycopg.IsolationLevel.REPEATABLE_READ))
        # The `authenticated` role's own statement_timeout does not apply after SET ROLE; an export
        # gets a generous one of its own, covering the whole COPY (a slow client included).
        conn.execute("select set_config('statement_timeout', %s, true), set_config('timezone', 'UTC', true)",
                     [f"{statement_timeout_seconds}s"])
        if max_concurrent is not None:
            _take_stream_slot(conn, user_id, max_concurrent)
        cap = request.limit or request.max_records
        # Count one past the cap: enough to know the range is too big, without counting all of it.
        counted = conn.execute(count_statement(request, cap if request.limit else cap + 1)).fetchone()
        rows = int(counted["n"]) if counted else 0
        if request.limit is None and rows > request.max_records:
            raise BadRequest(
                f"the date range holds more than {request.max_records} {request.config.type}, the most one"
                " export may hold: narrow startDate/endDate, or pass limit to take the newest rows",
                code="export_too_large")
        history_id = str(uuid.uuid4())
        # Held until the read transaction ends, however it ends (a dead process included): while
        # it is held, the sweep of orphaned exports leaves the row alone.
        conn.execute("select pg_advisory_xact_lock(public.export_stream_lock_key(%s))", [history_id])
        history.start(db, history_id, user_id, request, scheduled_run)
    except BaseException:
        stack.close()
        raise
    return ExportStream(db, stack, conn, request, history_id, rows)
