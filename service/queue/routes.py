"""The error management API (plan Step 6.2): the caller's queue items, and retrying one now.

Both routes run as the calling user, so RLS decides what exists; retry_now() raises P0002 (404)
for an item that is not the caller's and 55000 (409) for one that is processing or resolved.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from flask import Blueprint
from pydantic import BaseModel, Field

from ..api import Strict, endpoint
from ..context import services
from ..auth import Caller
from ..errors import NotFound

bp = Blueprint("errors", __name__)

Status = Literal["pending", "processing", "resolved", "failed"]
MAX_OFFSET = 1_000_000
ITEM_COLUMNS = ("id, operation_type, payload, status, attempts, max_attempts, last_error, next_retry_at,"
                " reference_id, reference_table, created_at, updated_at, resolved_at")


class ErrorsQuery(Strict):
    status: Status | None = Field(None, description="Only items in this state (default: every state)")
    limit: int = Field(20, ge=1, le=100, description="Items per page, 1–100")
    # Bounded so no offset reaches Postgres past bigint (it would be refused there, 22003); a
    # million items deep is past any page a person reads.
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"Items to skip, newest first, 0–{MAX_OFFSET}")


class RetryItem(BaseModel):
    id: UUID
    operation_type: str
    payload: dict[str, Any]
    status: Status
    attempts: int
    max_attempts: int
    last_error: str | None
    next_retry_at: datetime
    reference_id: UUID | None
    reference_table: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class StatusCounts(BaseModel):
    pending: int
    processing: int
    resolved: int
    failed: int


class ErrorsPage(BaseModel):
    items: list[RetryItem]
    total: int = Field(description="Items matching the status filter, over all pages")
    counts: StatusCounts


class RetriedItem(BaseModel):
    item: RetryItem


@bp.get("/api/errors")
@endpoint("The caller's retry queue items, newest first, with per-status counts",
          query=ErrorsQuery, response=ErrorsPage, tags=("errors",))
def list_errors(caller: Caller, query: ErrorsQuery) -> ErrorsPage:
    return errors_page(caller, query)


def errors_page(caller: Caller, query: ErrorsQuery) -> ErrorsPage:
    """One page of the caller's items with the counts, as the caller (the API and the console)."""
    with services().db.as_user(caller.claims) as conn:
        counts = StatusCounts.model_validate(
            conn.execute("select public.retry_queue_counts() as counts").fetchone()["counts"])  # type: ignore[index]
        rows = conn.execute(
            f"select {ITEM_COLUMNS} from public.retry_queue"
            " where (%(status)s::text is null or status = %(status)s::text)"
            " order by created_at desc, id limit %(limit)s offset %(offset)s",
            {"status": query.status, "limit": query.limit, "offset": query.offset},
        ).fetchall()
    total = getattr(counts, query.status) if query.status else sum(counts.model_dump().values())
    return ErrorsPage(items=[RetryItem.model_validate(row) for row in rows], total=total, counts=counts)


@bp.post("/api/errors/<uuid:item_id>/retry")
@endpoint("Retry one of the caller's pending or failed items now", response=RetriedItem, tags=("errors",),
          errors=(404, 409),
          description="A failed item that used up its attempts gets exactly one more. 404: no such item of "
                      "the caller's; 409: the item is processing or resolved.")
def retry_item(caller: Caller, item_id: UUID) -> RetriedItem:
    return retry_now(caller, item_id)


def retry_now(caller: Caller, item_id: UUID) -> RetriedItem:
    """public.retry_now() as the caller: 404 for an item not theirs, 409 processing or resolved."""
    with services().db.as_user(caller.claims) as conn:
        row = conn.execute(f"select {ITEM_COLUMNS} from public.retry_now(%s)", [item_id]).fetchone()
    return RetriedItem(item=RetryItem.model_validate(row))


class Attempt(BaseModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: Literal["running", "succeeded", "failed", "lost"]
    error: str | None


class ItemAttempts(BaseModel):
    item: RetryItem
    attempts: list[Attempt]


@bp.get("/api/errors/<uuid:item_id>/attempts")
@endpoint("One of the caller's queue items with its attempt history, oldest attempt first",
          response=ItemAttempts, tags=("errors",), errors=(404,))
def list_attempts(caller: Caller, item_id: UUID) -> ItemAttempts:
    return item_attempts(caller, item_id)


def item_attempts(caller: Caller, item_id: UUID) -> ItemAttempts:
    with services().db.as_user(caller.claims) as conn:
        row = conn.execute(f"select {ITEM_COLUMNS} from public.retry_queue where id = %s", [item_id]).fetchone()
        if row is None:
            raise NotFound(f"no queue item {item_id}", code="item_not_found")
        # Finished attempts are rows of retry_attempts; the one in progress is the item's claim.
        attempts = conn.execute(
            "select attempt, started_at, finished_at, outcome, error from public.retry_attempts where item_id = %(id)s"
            " union all select attempts, claimed_at, null, 'running', null from public.retry_queue"
            " where id = %(id)s and status = 'processing'"
            " order by attempt", {"id": item_id}).fetchall()
    return ItemAttempts(item=RetryItem.model_validate(row), attempts=[Attempt.model_validate(a) for a in attempts])
