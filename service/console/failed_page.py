"""Failed operations (plan Step 6.2): the four counts, the caller's queue items newest first with
operation, status, last error, attempts n/max, created and next retry as relative times; Retry now
on pending and failed items; a status filter; paging; an item's attempt history on its own page.
The list refreshes itself with a small script (static/failed.js) and has a Refresh link without
it. Everything is the API's own (service/queue/routes.py), as the signed-in user."""
from __future__ import annotations

from uuid import UUID

import psycopg
from flask import Response, redirect, request
from pydantic import ValidationError

from ..errors import from_database
from ..queue.routes import ErrorsQuery, errors_page, item_attempts, retry_now
from . import outcomes, sessions, web

bp = web.blueprint("console_failed")
PAGE_SIZE = 20
STATUSES = ("pending", "processing", "failed", "resolved")


def _caller():  # type: ignore[no-untyped-def]
    session = sessions.current()
    assert session is not None
    return session.caller


def failed_page(*, status: int = 200, error: str | None = None) -> Response:
    wanted = request.args.get("status") or None
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    try:
        query = ErrorsQuery(status=wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)  # type: ignore[arg-type]
    except ValidationError:
        query, wanted = ErrorsQuery(limit=PAGE_SIZE, offset=0), None
        error = error or "Unknown status filter: showing every item."
        page = 1
    result = errors_page(_caller(), query)
    pages = max(1, -(-result.total // PAGE_SIZE))
    return web.render("failed.html", status=status, result=result, wanted=wanted, statuses=STATUSES, page=page,
                      pages=pages, error=error, outcome=None if error else outcomes.message(request.args, {}))


@bp.get("/console/failed")
@web.signed_in
def failed() -> Response:
    return failed_page()


@bp.post("/console/failed/<uuid:item_id>/retry")
@web.signed_in
def retry(item_id: UUID) -> Response:
    back = web.safe_next(request.form.get("back")) or "/console/failed"
    try:
        retry_now(_caller(), item_id)
    except psycopg.Error as exc:  # retry_now() refuses with a SQLSTATE: P0002 not theirs, 55000 busy or done
        mapped = from_database(exc)
        if mapped is None:
            raise
        words = {404: "That item does not exist (or is not yours).",
                 409: "That item is being processed or is already resolved, so it cannot be retried now."}
        return failed_page(status=mapped.status, error=words.get(mapped.status, mapped.message))
    separator = "&" if "?" in back else "?"
    return redirect(f"{back}{separator}done=retried", code=303)


@bp.get("/console/failed/<uuid:item_id>")
@web.signed_in
def attempts(item_id: UUID) -> Response:
    return web.render("attempts.html", history=item_attempts(_caller(), item_id),
                      outcome=outcomes.message(request.args, {}))
