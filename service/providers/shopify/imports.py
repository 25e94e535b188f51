"""The initial import of a shop's data through Shopify's Bulk Operations (docs/shopify.md, "The
initial import"; SQL in supabase/schemas/47_shopify_import.sql).

`POST /api/shopify/import` (or the wizard's import step) records an import and queues
`shopify.import_start`, which starts one bulk query operation per kind not started yet (five at
once from API version 2026-01, one before). Shopify says an operation finished through the
`bulk_operations/finish` webhook (which queues `shopify.import_check`); the periodic
`shopify.poll_imports` queues the same check for operations nobody heard of for
`HAVEN_SHOPIFY_IMPORT_POLL_SECONDS`. The check reads the operation with `node(id:)`: still running,
it records the count; completed, it streams the JSONL result, parsed a line at a time into typed
columns (bulk_lines.py), into a temporary table with COPY (the file is never held in memory:
lines go through as they arrive) and writes it in SQL with the webhooks' own upsert functions, in the transaction that marks the operation loaded. Failed,
canceled, expired, or completed with only `partialDataUrl`: recorded as such, and SQL queues
another operation for the kind — an import is never complete on partial data.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import psycopg
from flask import Blueprint
from pydantic import BaseModel, Field

from ...api import endpoint
from ...auth import Caller
from ...context import services
from ...db import Database
from ...errors import Conflict, PermanentError, ProviderRejected, retryable, sqlstate_of
from ...integrations import records
from ...queue.registry import Job, WorkerContext
from .bulk_lines import SHAPES, StagedResult, UnreadableResult, split_lines
from .client import BULK_QUERIES, NAME, BulkOperation, ShopifyClient, bulk_concurrency
from .oauth import client, usable_token

log = logging.getLogger(__name__)
bp = Blueprint("shopify_import", __name__)
TAGS = ("shopify",)
KINDS = ("customers", "orders", "products", "collections")
IN_FLIGHT = ("created", "running", "completed")
# Parents per upsert statement: big enough that a statement's fixed cost vanishes, small enough
# that one statement's arrays stay a few megabytes.
LOAD_BATCH = 10_000

Kind = Literal["customers", "orders", "products", "collections"]


class BulkOperationView(BaseModel):
    kind: Kind
    status: Literal["created", "running", "completed", "loaded", "failed", "canceled", "expired", "partial"]
    shopify_bulk_operation_id: str
    objects_read: int
    rows_written: int
    error_code: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ImportView(BaseModel):
    id: str
    shop_domain: str
    status: Literal["running", "completed", "failed"]
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    objects_read: int
    rows_written: int
    operations: list[BulkOperationView]


class ImportStatus(BaseModel):
    latest: ImportView | None = Field(description="the latest import; null before the first")


def latest_import(conn: psycopg.Connection[Any]) -> ImportView | None:
    """The caller's latest import with every bulk operation it ran (RLS: their own rows)."""
    row = conn.execute(
        "select id::text, shop_domain, status, error, started_at, finished_at from public.shopify_imports"
        " where user_id = (select auth.uid()) order by started_at desc limit 1").fetchone()
    if row is None:
        return None
    operations = [BulkOperationView(**r) for r in conn.execute(
        "select kind, status, shopify_bulk_operation_id, objects_read, rows_written, error_code, error,"
        " created_at, finished_at from public.shopify_bulk_operations"
        " where user_id = (select auth.uid()) and import_id = %s order by created_at, kind", [row["id"]])]
    loaded = [op for op in operations if op.status == "loaded"]
    return ImportView(**row, objects_read=sum(op.objects_read for op in loaded),
                      rows_written=sum(op.rows_written for op in loaded), operations=operations)


def import_status(claims: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latest import as plain data, for the wizard (the catalog's DataImport.status)."""
    with services().db.as_user(claims) as conn:
        view = latest_import(conn)
    return view.model_dump(mode="json") if view is not None else None


def start_import(user_id: str) -> None:
    """Starts an import of the user's connected shop, or keeps the one running (409 not_connected)."""
    with services().db.as_service() as conn:
        row = records.lock(conn, user_id, NAME)
        if row is None or row["status"] != "connected":
            raise Conflict("Shopify is not connected: connect a shop before importing its data", code="not_connected")
        conn.execute("select public.start_shopify_import(%s)", [user_id])


@bp.get("/api/shopify/import")
@endpoint("The caller's latest Shopify import: its state and, per bulk operation, objects read and rows written",
          response=ImportStatus, tags=TAGS,
          description="`latest` is null before the first import. `objects_read` and `rows_written` of the import "
                      "count its loaded operations; failed, canceled, expired and partial operations stay listed.")
def get_import(caller: Caller) -> ImportStatus:
    with services().db.as_user(caller.claims) as conn:
        return ImportStatus(latest=latest_import(conn))


@bp.post("/api/shopify/import")
@endpoint("Start importing the connected shop's orders, customers, products and collections", response=ImportStatus,
          status=202, errors=(409,), tags=TAGS,
          description="202 with the import (while one runs, that one: one import at a time). 409 `not_connected` "
                      "when no shop is connected. Completing the import completes the wizard's import step.")
def post_import(caller: Caller) -> ImportStatus:
    start_import(caller.user_id)
    with services().db.as_user(caller.claims) as conn:
        return ImportStatus(latest=latest_import(conn))


def _fail_import(db: Database, user_id: str, import_id: str, error: str) -> None:
    with db.as_service() as conn:
        conn.execute("update public.shopify_imports set status = 'failed', finished_at = now(), error = %s"
                     " where user_id = %s and id = %s and status = 'running'", [error[:2000], user_id, import_id])


def import_start(job: Job) -> None:
    """Starts a bulk operation for every kind that has none in flight or loaded, within the
    shop's concurrency limit. Idempotent: kinds in flight are left alone."""
    db, settings = job.context.db, job.context.settings
    import_id = str(job.payload["import_id"])
    with db.as_service() as conn:
        found = conn.execute(
            "select si.status, si.shop_domain, i.status as connection, i.metadata ->> 'shop_domain' as held"
            " from public.shopify_imports as si left join public.integrations as i"
            " on i.user_id = si.user_id and i.provider = 'shopify'"
            " where si.user_id = %s and si.id = %s", [job.user_id, import_id]).fetchone()
        operations = conn.execute(
            "select kind, status from public.shopify_bulk_operations where user_id = %s and import_id = %s",
            [job.user_id, import_id]).fetchall()
    if found is None or found["status"] != "running":
        return
    shop = found["shop_domain"]
    if found["connection"] != "connected" or found["held"] != shop:
        _fail_import(db, job.user_id, import_id, "the shop was disconnected during the import")
        return
    busy = {op["kind"] for op in operations if op["status"] in (*IN_FLIGHT, "loaded")}
    in_flight = sum(op["status"] in IN_FLIGHT for op in operations)
    try:
        access, shopify = usable_token(job), client(settings)
        for kind in KINDS:
            if kind in busy:
                continue
            if in_flight >= bulk_concurrency(settings.shopify_api_version):
                break  # the next starts when one of these finishes (finish_shopify_bulk_load queues it)
            operation = shopify.run_bulk_query(shop, access, BULK_QUERIES[kind])
            with db.as_service() as conn:
                conn.execute(
                    "insert into public.shopify_bulk_operations (user_id, import_id, kind, shopify_bulk_operation_id,"
                    " status) values (%s, %s, %s, %s, coalesce(public.shopify_bulk_status(%s), 'created'))",
                    [job.user_id, import_id, kind, operation.id, operation.status])
            in_flight += 1
    except Exception as exc:
        if not retryable(exc) or job.attempt >= job.max_attempts:
            _fail_import(db, job.user_id, import_id, f"could not start a bulk operation: {exc}")
        raise


def import_check(job: Job) -> None:
    """Reads one bulk operation's state from Shopify and acts on it (module docstring)."""
    db, settings = job.context.db, job.context.settings
    operation_id = str(job.payload["operation_id"])
    with db.as_service() as conn:
        row = conn.execute(
            "select b.kind, b.status, b.shopify_bulk_operation_id as gid, b.import_id::text, si.shop_domain,"
            " si.status as import_status, i.status as connection, i.metadata ->> 'shop_domain' as held"
            " from public.shopify_bulk_operations as b join public.shopify_imports as si"
            " on si.user_id = b.user_id and si.id = b.import_id"
            " left join public.integrations as i on i.user_id = b.user_id and i.provider = 'shopify'"
            " where b.user_id = %s and b.id = %s", [job.user_id, operation_id]).fetchone()
    if row is None or row["status"] not in IN_FLIGHT or row["import_status"] != "running":
        return
    if row["connection"] != "connected" or row["held"] != row["shop_domain"]:
        # Uninstalled or switched shops meanwhile: no token reads this shop any more.
        _fail_import(db, job.user_id, row["import_id"], "the shop was disconnected during the import")
        return
    shopify = client(settings)
    try:
        operation = shopify.bulk_operation(row["shop_domain"], usable_token(job), row["gid"])
    except ProviderRejected:
        _record_failure(db, operation_id, "failed", None, "Shopify no longer knows this bulk operation")
        return
    if operation.status in ("CREATED", "RUNNING", "CANCELING"):
        with db.as_service() as conn:
            conn.execute("select public.record_shopify_bulk_progress(%s, %s, %s)",
                         [operation_id, operation.status, operation.object_count])
        return
    if operation.status == "COMPLETED" and (operation.url or not operation.partial_data_url):
        load(db, shopify, job.user_id, operation_id, row["shop_domain"], row["kind"], operation)
        return
    status = {"FAILED": "failed", "CANCELED": "canceled", "EXPIRED": "expired"}.get(operation.status)
    if operation.partial_data_url and operation.status in ("COMPLETED", "FAILED"):
        status = "partial"  # some data only: never loaded as if it were the whole shop
    if status is None:
        raise PermanentError(f"bulk operation in a state the contract does not name: {operation.status}")
    _record_failure(db, operation_id, status, operation.error_code,
                    f"bulk operation {operation.status.lower()}" + (" with partial data only" if status == "partial"
                                                                   else ""))


def _record_failure(db: Database, operation_id: str, status: str, error_code: str | None, error: str) -> None:
    with db.as_service() as conn:
        conn.execute("select public.fail_shopify_bulk_operation(%s, %s, %s, %s)",
                     [operation_id, status, error_code, error])


def load(db: Database, shopify: ShopifyClient, user_id: str, operation_id: str, shop: str, kind: str,
         operation: BulkOperation) -> None:
    """Streams the result into pg_temp.shopify_bulk_stage and writes it, in one transaction that
    holds the operation's row: a concurrent check (the webhook's and the poller's) waits, then
    finds it loaded. Nothing of it is written unless all of it is."""
    try:
        with db.as_service() as conn:
            state = conn.execute("select status from public.shopify_bulk_operations where id = %s for update",
                                 [operation_id]).fetchone()
            if state is None or state["status"] not in IN_FLIGHT:
                return
            objects = rows = 0
            if operation.url:
                conn.execute("select public.create_shopify_bulk_stage(%s)", [kind])
                columns = ", ".join(SHAPES[kind].columns)
                result = StagedResult(kind, split_lines(shopify.bulk_result(operation.url)))
                with conn.cursor().copy(f"copy pg_temp.shopify_bulk_stage ({columns}) from stdin") as copy:
                    copy.set_types(SHAPES[kind].copy_types)
                    for row in result:
                        copy.write_row(row)
                objects = result.lines
                written = conn.execute("select public.import_shopify_bulk_stage(%s, %s, %s, %s) as n",
                                       [user_id, shop, kind, LOAD_BATCH]).fetchone()
                rows = int(written["n"]) if written else 0
            conn.execute("select public.finish_shopify_bulk_load(%s, %s, %s)", [operation_id, objects, rows])
    except ProviderRejected as exc:
        # The signed URL was refused (expired after a week, say): the result is gone.
        _record_failure(db, operation_id, "expired", None, f"the result could not be downloaded: {exc}")
    except UnreadableResult as exc:
        _record_failure(db, operation_id, "failed", None, f"the result could not be read: {exc}")
    except psycopg.Error as exc:
        meaning = sqlstate_of(exc)
        if meaning is None or not meaning.bad_input:
            raise
        # A value Postgres cannot hold (refused by Postgres, or by psycopg before sending it, which
        # leaves no server message): this result cannot be loaded.
        _record_failure(db, operation_id, "failed", None, "the result could not be read: "
                        + (exc.diag.message_primary or f"a value Postgres cannot hold ({exc})"))


def poll_imports(context: WorkerContext) -> None:
    with context.db.as_service() as conn:
        row = conn.execute("select public.queue_shopify_bulk_checks(make_interval(secs => %s)) as queued",
                           [context.settings.shopify_import_poll_seconds]).fetchone()
    if row and row["queued"]:
        log.info("queued %d Shopify bulk operation checks", row["queued"])
