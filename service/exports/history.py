"""`export_history`: the one module that writes it (and reads what the runner needs of it).

A row is written when an export begins (`streaming`) and settled once: completed with its row
count, failed, or abandoned. Scheduled runs also record their delivery on it. Every write here
is one statement on the service's single-statement pool (`call_as_service`): a stream holds a
connection of the main pool meanwhile, and waiting on that same pool for a second one could wait
for ever once every connection is an export's.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from ..db import Database
from .request import ExportRequest

MAX_ERROR_CHARS = 2000


def _instant(value: datetime | date | None) -> datetime | None:
    """A day bound as the instant it starts (midnight UTC), for export_history's timestamptz."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), timezone.utc)


def start(db: Database, history_id: str, user_id: str, request: ExportRequest,
          scheduled_run: tuple[str, datetime] | None) -> None:
    """An export begins: the row is `streaming` until `settle` records how it ended."""
    schedule_id, scheduled_for = scheduled_run or (None, None)
    db.call_as_service(
        "insert into public.export_history"
        " (id, user_id, export_type, format, fields, start_date, end_date, row_limit,"
        " scheduled_export_id, scheduled_for)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [history_id, user_id, request.config.type, request.format, [f.key for f in request.fields],
         _instant(request.start), _instant(request.end), request.limit, schedule_id, scheduled_for],
    )


def settle(db: Database, history_id: str, status: str, rows: int | None, error: str | None) -> None:
    """How a stream ended; only a row still `streaming` changes (a row is settled once)."""
    db.call_as_service(
        "update public.export_history"
        " set status = %s, record_count = %s, error = %s, finished_at = now()"
        " where id = %s and status = 'streaming'",
        [status, rows, error, history_id],
    )


def fail_built(db: Database, history_id: str, error: str) -> None:
    """A run whose stream completed but whose file cannot be kept (e.g. over the size cap)."""
    db.call_as_service("update public.export_history set status = 'failed', record_count = null, error = %s"
                       " where id = %s", [error[:MAX_ERROR_CHARS], history_id])


def record_unbuilt_run(db: Database, user_id: str, schedule: dict[str, Any], run_at: datetime,
                       fields: list[str], error: str) -> None:
    """A scheduled run that could not even begin, recorded like any export that failed."""
    db.call_as_service(
        "insert into public.export_history (user_id, export_type, format, fields, status, error,"
        " finished_at, scheduled_export_id, scheduled_for) values (%s, %s, %s, %s, 'failed', %s, now(), %s, %s)",
        [user_id, schedule["export_type"], schedule["format"], fields, error[:MAX_ERROR_CHARS],
         str(schedule["id"]), run_at])


def record_delivery(db: Database, history_id: str, method: str, delivery_id: str | None) -> None:
    db.call_as_service("update public.export_history set delivery_method = %s, delivered_at = now(),"
                       " delivery_id = %s, error = null where id = %s", [method, delivery_id, history_id])


def record_delivery_error(db: Database, history_id: str, message: str) -> None:
    db.call_as_service("update public.export_history set error = %s where id = %s and delivered_at is null",
                       [f"delivery failed: {message}"[:MAX_ERROR_CHARS], history_id])


def run_delivered(db: Database, schedule_id: str, run_at: datetime) -> bool:
    row = db.call_as_service(
        "select exists (select from public.export_history where scheduled_export_id = %s"
        " and scheduled_for = %s and delivered_at is not null) as done", [schedule_id, run_at])
    return bool(row and row["done"])
