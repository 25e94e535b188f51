"""`/api/export/schedules` (a user's recurring exports) and `/api/export/files` (what they built).

Everything runs as the calling user (`db.as_user`): RLS keeps each user to their own schedules
and files, so another user's id answers 404 exactly like an unknown one. next_run_at is the
database's to compute (a trigger: on create, on a frequency change, when enabled again).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from flask import Blueprint, Response
from pydantic import BaseModel, EmailStr, Field

from ..api import Strict, endpoint
from ..context import services
from ..auth import Caller
from ..db import Database
from ..errors import BadRequest, NotFound
from .catalog import EXPORT_CONFIGS, ExportFormat

bp = Blueprint("export_schedules", __name__)
TAGS = ("exports",)
FILE_CHUNK_BYTES = 1024 * 1024

DateRangeType = Literal["last_week", "last_month", "all_time"]
Frequency = Literal["weekly", "monthly"]
DeliveryMethod = Literal["email", "download"]
COLUMNS = ("id, export_type, format, field_selection, date_range_type, frequency, enabled, delivery_method,"
           " delivery_email, last_run_at, next_run_at, created_at, updated_at")
WRITABLE = ("export_type", "format", "field_selection", "date_range_type", "frequency", "enabled",
            "delivery_method", "delivery_email")
NOT_NULL = ("export_type", "format", "frequency", "enabled", "delivery_method")


class ScheduleCreate(Strict):
    export_type: str = Field(description="leads, customers, orders, pins, quotes, assets or analytics")
    format: ExportFormat = "csv"
    field_selection: list[str] | None = Field(None, description="field keys, in file order; empty or null:"
                                                                " the type's defaults")
    date_range_type: DateRangeType | None = Field(None, description="default: last_week for weekly,"
                                                                    " last_month for monthly")
    frequency: Frequency
    enabled: bool = True
    delivery_method: DeliveryMethod = "email"
    delivery_email: EmailStr | None = Field(None, description="required when delivery_method is email")


class ScheduleUpdate(Strict):
    """Only the fields sent change; the merged schedule is validated as a whole."""

    export_type: str | None = None
    format: ExportFormat | None = None
    field_selection: list[str] | None = None
    date_range_type: DateRangeType | None = None
    frequency: Frequency | None = None
    enabled: bool | None = None
    delivery_method: DeliveryMethod | None = None
    delivery_email: EmailStr | None = None


class Schedule(BaseModel):
    id: UUID
    export_type: str
    format: str
    field_selection: list[str] | None
    date_range_type: str | None
    frequency: str
    enabled: bool
    delivery_method: str
    delivery_email: str | None
    last_run_at: datetime | None = Field(description="the run time of the last run queued")
    next_run_at: datetime = Field(description="when the next run is queued (UTC period boundaries)")
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    schedules: list[Schedule]


class ExportFile(BaseModel):
    id: UUID
    filename: str
    content_type: str
    byte_size: int
    record_count: int
    export_type: str
    scheduled_export_id: UUID | None
    scheduled_for: datetime | None
    expires_at: datetime
    created_at: datetime


class ExportFileList(BaseModel):
    files: list[ExportFile]


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    """The schedule's columns, checked against the catalog; BadRequest naming the problem."""
    for name in NOT_NULL:
        if values.get(name) is None:
            raise BadRequest(f"{name} cannot be null", code="invalid_schedule")
    config = EXPORT_CONFIGS.get(values["export_type"])
    if config is None:
        raise BadRequest(f"unknown export type {values['export_type']!r}: one of {', '.join(EXPORT_CONFIGS)}",
                         code="invalid_schedule")
    selection = values.get("field_selection") or None
    if selection is not None:
        unknown = [key for key in selection if config.field(key) is None]
        if unknown:
            raise BadRequest(f"unknown field(s) for {config.type}: {', '.join(unknown)}", code="invalid_schedule",
                             details={"unknown": unknown, "allowed": [f.key for f in config.fields]})
        repeated = sorted({key for key in selection if selection.count(key) > 1})
        if repeated:
            raise BadRequest(f"field(s) listed more than once: {', '.join(repeated)}", code="invalid_schedule")
    if values["delivery_method"] == "email" and not values.get("delivery_email"):
        raise BadRequest("delivery_email is required when delivery_method is email", code="invalid_schedule")
    if values.get("date_range_type") is None:
        values["date_range_type"] = "last_month" if values["frequency"] == "monthly" else "last_week"
    return {**values, "field_selection": selection}


def _own_schedule(conn: Any, schedule_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(f"select {COLUMNS} from public.scheduled_exports where id = %s"
                       + (" for update" if lock else ""), [schedule_id]).fetchone()
    if row is None:
        raise NotFound(f"no export schedule {schedule_id}", code="schedule_not_found")
    return row


@bp.post("/api/export/schedules")
@endpoint("Schedule a recurring export", body=ScheduleCreate, response=Schedule, status=201, tags=TAGS,
          description="400 names the problem: unknown type or field, a repeated field, email delivery without "
                      "delivery_email, an address that is not one. next_run_at is computed by the database: "
                      "the next Monday (weekly) or 1st of a month (monthly), 00:00 UTC.")
def create_schedule(caller: Caller, body: ScheduleCreate) -> Schedule:
    return new_schedule(caller, body)


def new_schedule(caller: Caller, body: ScheduleCreate) -> Schedule:
    """Creates one of the caller's schedules (the API and the console)."""
    values = _validated(body.model_dump())
    with services().db.as_user(caller.claims) as conn:
        row = conn.execute(
            f"insert into public.scheduled_exports (user_id, {', '.join(WRITABLE)})"
            f" values (%s, {', '.join(['%s'] * len(WRITABLE))}) returning {COLUMNS}",
            [caller.user_id, *(values[name] for name in WRITABLE)]).fetchone()
    return Schedule.model_validate(row)


@bp.get("/api/export/schedules")
@endpoint("The caller's export schedules, oldest first", response=ScheduleList, tags=TAGS)
def list_schedules(caller: Caller) -> ScheduleList:
    return schedules_of(caller)


def schedules_of(caller: Caller) -> ScheduleList:
    """The caller's schedules, oldest first."""
    with services().db.as_user(caller.claims) as conn:
        rows = conn.execute(f"select {COLUMNS} from public.scheduled_exports order by created_at, id").fetchall()
    return ScheduleList(schedules=[Schedule.model_validate(row) for row in rows])


@bp.get("/api/export/schedules/<uuid:schedule_id>")
@endpoint("One of the caller's export schedules", response=Schedule, errors=(404,), tags=TAGS)
def get_schedule(caller: Caller, schedule_id: UUID) -> Schedule:
    with services().db.as_user(caller.claims) as conn:
        return Schedule.model_validate(_own_schedule(conn, schedule_id))


@bp.patch("/api/export/schedules/<uuid:schedule_id>")
@endpoint("Change an export schedule", body=ScheduleUpdate, response=Schedule, errors=(404,), tags=TAGS,
          description="Changing the frequency, or enabling a schedule again, moves next_run_at to the next "
                      "boundary of the (new) frequency.")
def update_schedule(caller: Caller, schedule_id: UUID, body: ScheduleUpdate) -> Schedule:
    return change_schedule(caller, schedule_id, body)


def change_schedule(caller: Caller, schedule_id: UUID, body: ScheduleUpdate) -> Schedule:
    """Changes a schedule; the merged schedule is validated as a whole."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise BadRequest("nothing to change: send at least one field", code="invalid_schedule")
    with services().db.as_user(caller.claims) as conn:
        current = _own_schedule(conn, schedule_id, lock=True)
        values = _validated({**{name: current[name] for name in WRITABLE}, **changes})
        row = conn.execute(
            f"update public.scheduled_exports set {', '.join(f'{name} = %s' for name in WRITABLE)}"
            f" where id = %s returning {COLUMNS}",
            [*(values[name] for name in WRITABLE), schedule_id]).fetchone()
    return Schedule.model_validate(row)


@bp.delete("/api/export/schedules/<uuid:schedule_id>")
@endpoint("Delete an export schedule (runs already queued are dropped; its history and files stay)",
          status=204, produces=(), errors=(404,), tags=TAGS)
def delete_schedule(caller: Caller, schedule_id: UUID) -> Response:
    return remove_schedule(caller, schedule_id)


def remove_schedule(caller: Caller, schedule_id: UUID) -> Response:
    """Deletes one of the caller's schedules (404 when it is not theirs)."""
    with services().db.as_user(caller.claims) as conn:
        deleted = conn.execute("delete from public.scheduled_exports where id = %s returning id",
                               [schedule_id]).fetchone()
    if deleted is None:
        raise NotFound(f"no export schedule {schedule_id}", code="schedule_not_found")
    return Response(status=204)


@bp.get("/api/export/files")
@endpoint("The caller's stored export files (built by scheduled runs) that have not expired, newest first",
          response=ExportFileList, tags=TAGS)
def list_files(caller: Caller) -> ExportFileList:
    return files_of(caller)


def files_of(caller: Caller) -> ExportFileList:
    """The caller's unexpired stored files, newest first."""
    with services().db.as_user(caller.claims) as conn:
        rows = conn.execute(
            "select f.id, f.filename, f.content_type, f.byte_size, f.record_count, h.export_type,"
            " h.scheduled_export_id, h.scheduled_for, f.expires_at, f.created_at"
            " from public.export_files as f join public.export_history as h on h.id = f.export_history_id"
            " order by f.created_at desc, f.id").fetchall()
    return ExportFileList(files=[ExportFile.model_validate(row) for row in rows])


def _chunks(db: Database, claims: Mapping[str, Any], file_id: UUID, size: int) -> Iterator[bytes]:
    # Stored uncompressed out of line (STORAGE EXTERNAL), so each slice reads only its own pages.
    with db.as_user(claims) as conn:
        for offset in range(0, size, FILE_CHUNK_BYTES):
            row = conn.execute("select substring(file_bytes from %s for %s) as part from public.export_files"
                               " where id = %s", [offset + 1, FILE_CHUNK_BYTES, file_id]).fetchone()
            if row is None:
                raise RuntimeError(f"export file {file_id} went away while it was being sent")
            yield bytes(row["part"])


@bp.get("/api/export/files/<uuid:file_id>")
@endpoint("Download a stored export file (the owner only, until it expires)", produces=("text/csv",
          "application/json"), errors=(404,), tags=TAGS)
def download_file(caller: Caller, file_id: UUID) -> Response:
    return file_download(caller, file_id)


def file_download(caller: Caller, file_id: UUID) -> Response:
    """Streams one of the caller's stored files."""
    app_services = services()
    with app_services.db.as_user(caller.claims) as conn:
        row = conn.execute("select filename, content_type, byte_size, record_count from public.export_files"
                           " where id = %s", [file_id]).fetchone()
    if row is None:
        raise NotFound(f"no export file {file_id} (it may have expired)", code="file_not_found")
    return Response(_chunks(app_services.db, caller.claims, file_id, row["byte_size"]), status=200,
                    content_type=row["content_type"], headers={
                        "Content-Disposition": f'attachment; filename="{row["filename"]}"',
                        "Content-Length": str(row["byte_size"]),
                        "X-Record-Count": str(row["record_count"]),
                        "Cache-Control": "no-store",
                    })
