"""`/api/export/schedules` (a user's recurring exports) and `/api/export/files` (what they built).

Everything runs as the calling user (`db.as_user`): RLS keeps each user to their own schedules
and files, so another user's id answers 404 exactly like an unknown one. next_run_at is the
database's to compute (a trigger: on create, on a frequency change, when enabled again).

What a body may hold is stated in its JSON Schema (`/api/openapi.json`), field keys per export
type included, and a body that breaks it is a 400. SQL holds the same rules against direct writes
(supabase/schemas/31_scheduled_exports.sql): a schedule's fields are checked when its type or fields
change and when it is switched back on, never otherwise, so a schedule whose type lost a field can
always be switched off or deleted. A change that conflicts with the stored schedule (fields of
another type, email delivery without an address) is a 409; so is an enabled email schedule while no
sender can be found, and a new schedule past HAVEN_EXPORT_SCHEDULES_PER_USER (limit_reached).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from ..api import ADDRESS_PATTERN, Strict, endpoint
from ..context import services
from ..auth import Caller
from ..db import Database
from ..errors import BadRequest, Conflict, NotFound
from .catalog import EXPORT_CONFIGS, ExportFormat
from .scheduled import no_email_sender

bp = Blueprint("export_schedules", __name__)
TAGS = ("exports",)
FILE_CHUNK_BYTES = 1024 * 1024

ExportType = Literal[tuple(EXPORT_CONFIGS)]  # type: ignore[valid-type]
DateRangeType = Literal["last_week", "last_month", "all_time"]
Frequency = Literal["weekly", "monthly"]
DeliveryMethod = Literal["email", "download"]
COLUMNS = ("id, export_type, format, field_selection, date_range_type, frequency, enabled, delivery_method,"
           " delivery_email, last_run_at, next_run_at, created_at, updated_at")
WRITABLE = ("export_type", "format", "field_selection", "date_range_type", "frequency", "enabled",
            "delivery_method", "delivery_email")
MOST_FIELDS = max(len(config.fields) for config in EXPORT_CONFIGS.values())
FieldSelection = list[str] | None
# The address rule SQL's CHECK states (one @, a dot after it, no whitespace), and its length; the
# provider refuses a run to an address it cannot deliver to, saying so in the run's history.
Address = Annotated[str, Field(max_length=254, pattern=ADDRESS_PATTERN)] | None


def _field_selection_of(export_type: str) -> dict[str, Any]:
    keys = [f.key for f in EXPORT_CONFIGS[export_type].fields]
    return {"anyOf": [{"type": "array", "items": {"enum": keys}, "uniqueItems": True, "maxItems": len(keys)},
                      {"type": "null"}]}


def _fields_of_the_type(schema: dict[str, Any]) -> None:
    """The rules JSON Schema can state beyond each property: field_selection holds field keys of
    the schedule's export_type, each once (the type sent, or on a change without one, some type)."""
    schema["allOf"] = [{"anyOf": [
        {"properties": {"export_type": {"const": t}, "field_selection": _field_selection_of(t)}}
        for t in EXPORT_CONFIGS]}]


def _create_rules(schema: dict[str, Any]) -> None:
    _fields_of_the_type(schema)
    # Email (the default delivery) needs an address.
    schema["allOf"].append({"anyOf": [
        {"properties": {"delivery_method": {"const": "download"}}, "required": ["delivery_method"]},
        {"properties": {"delivery_email": {"type": "string"}}, "required": ["delivery_email"]}]})


def _update_rules(schema: dict[str, Any]) -> None:
    _fields_of_the_type(schema)
    # A change to email delivery cannot clear the address in the same breath.
    schema["allOf"].append({"anyOf": [{"properties": {"delivery_method": {"enum": ["download"]}}},
                                      {"properties": {"delivery_email": {"type": "string"}}}]})
    schema["minProperties"] = 1


class ScheduleCreate(Strict):
    model_config = ConfigDict(json_schema_extra=_create_rules)

    export_type: ExportType
    format: ExportFormat = "csv"
    field_selection: FieldSelection = Field(None, max_length=MOST_FIELDS,
                                            description="field keys of export_type, each once, in file order;"
                                                        " empty or null: the type's defaults")
    date_range_type: DateRangeType | None = Field(None, description="default: last_week for weekly,"
                                                                    " last_month for monthly")
    frequency: Frequency
    enabled: bool = True
    delivery_method: DeliveryMethod = "email"
    delivery_email: Address = Field(None, description="required when delivery_method is email")


class ScheduleUpdate(Strict):
    """Only the fields sent change (at least one); the columns that cannot be null take no null."""

    model_config = ConfigDict(json_schema_extra=_update_rules)

    export_type: ExportType = None
    format: ExportFormat = None  # type: ignore[assignment]
    field_selection: FieldSelection = Field(None, max_length=MOST_FIELDS)
    date_range_type: DateRangeType | None = None
    frequency: Frequency = None  # type: ignore[assignment]
    enabled: bool = None  # type: ignore[assignment]
    delivery_method: DeliveryMethod = None  # type: ignore[assignment]
    delivery_email: Address = None


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


def _field_problem(export_type: str, selection: list[str] | None) -> tuple[str, dict[str, Any] | None] | None:
    """Why `selection` is not a list of export_type's field keys, each once; None when it is."""
    if not selection:
        return None
    config = EXPORT_CONFIGS[export_type]
    unknown = [key for key in selection if config.field(key) is None]
    if unknown:
        return (f"unknown field(s) for {config.type}: {', '.join(unknown)}",
                {"unknown": unknown, "allowed": [f.key for f in config.fields]})
    repeated = sorted({key for key in selection if selection.count(key) > 1})
    if repeated:
        return f"field(s) listed more than once: {', '.join(repeated)}", None
    return None


def _refuse_unless_fields_fit(export_type: str, selection: list[str] | None, error: type[BadRequest | Conflict],
                              ) -> None:
    problem = _field_problem(export_type, selection)
    if problem is not None:
        message, details = problem
        raise error(message, code="invalid_schedule", details=details)


def _refuse_email_without_sender(conn: Any, caller: Caller, values: Mapping[str, Any]) -> None:
    """An enabled email schedule is accepted only while its runs could be sent. (Resend
    disconnected later: its runs fail, saying what to connect; see docs/exports.md.)"""
    if values["delivery_method"] != "email" or not values["enabled"]:
        return
    app_services = services()
    problem = no_email_sender(conn, app_services.settings, app_services.providers, caller.user_id)
    if problem is not None:
        raise Conflict(problem, code="no_email_sender")


def _with_default_range(values: dict[str, Any]) -> dict[str, Any]:
    if values.get("date_range_type") is None:
        values["date_range_type"] = "last_month" if values["frequency"] == "monthly" else "last_week"
    return {**values, "field_selection": values.get("field_selection") or None}


def _own_schedule(conn: Any, schedule_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(f"select {COLUMNS} from public.scheduled_exports where id = %s"
                       + (" for update" if lock else ""), [schedule_id]).fetchone()
    if row is None:
        raise NotFound(f"no export schedule {schedule_id}", code="schedule_not_found")
    return row


@bp.post("/api/export/schedules")
@endpoint("Schedule a recurring export", body=ScheduleCreate, response=Schedule, status=201, errors=(409,),
          tags=TAGS,
          description="400 names what the body breaks (see its schema: field keys of the type, each once; email "
                      "delivery needs delivery_email). 409 `no_email_sender`: an enabled email schedule while no "
                      "sender can be found (Resend not connected, or no from_email and no HAVEN_EXPORT_EMAIL_FROM)"
                      "; 409 `limit_reached`: the account has HAVEN_EXPORT_SCHEDULES_PER_USER schedules already. "
                      "next_run_at is computed by the database: the next Monday (weekly) or 1st of a month "
                      "(monthly), 00:00 UTC.")
def create_schedule(caller: Caller, body: ScheduleCreate) -> Schedule:
    return new_schedule(caller, body)


def new_schedule(caller: Caller, body: ScheduleCreate) -> Schedule:
    """Creates one of the caller's schedules (the API and the console)."""
    values = _with_default_range(body.model_dump())
    _refuse_unless_fields_fit(values["export_type"], values["field_selection"], BadRequest)
    if values["delivery_method"] == "email" and not values["delivery_email"]:
        raise BadRequest("delivery_email is required when delivery_method is email", code="invalid_schedule")
    with services().db.as_user(caller.claims) as conn:
        _refuse_email_without_sender(conn, caller, values)
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
@endpoint("Change an export schedule", body=ScheduleUpdate, response=Schedule, errors=(404, 409), tags=TAGS,
          description="Changing the frequency, or enabling a schedule again, moves next_run_at to the next "
                      "boundary of the (new) frequency. Switching a schedule off always works, even when its "
                      "fields no longer fit its type. 409 `invalid_schedule` when the change conflicts with the "
                      "stored schedule (fields of another type, email delivery without an address, switching on "
                      "a schedule whose fields no longer fit); 409 `no_email_sender` as on create.")
def update_schedule(caller: Caller, schedule_id: UUID, body: ScheduleUpdate) -> Schedule:
    return change_schedule(caller, schedule_id, body)


def change_schedule(caller: Caller, schedule_id: UUID, body: ScheduleUpdate) -> Schedule:
    """Changes a schedule; the merged schedule is validated as a whole."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise BadRequest("nothing to change: send at least one field", code="invalid_schedule")
    # What the body alone must satisfy (its schema says so): 400.
    if "export_type" in changes and "field_selection" in changes:
        _refuse_unless_fields_fit(changes["export_type"], changes["field_selection"], BadRequest)
    if changes.get("delivery_method") == "email" and "delivery_email" in changes and not changes["delivery_email"]:
        raise BadRequest("delivery_email is required when delivery_method is email", code="invalid_schedule")
    with services().db.as_user(caller.claims) as conn:
        current = _own_schedule(conn, schedule_id, lock=True)
        values = _with_default_range({**{name: current[name] for name in WRITABLE}, **changes})
        # As SQL's trigger does: fields are checked when the type or fields change or the schedule is
        # switched back on, so switching off (or renaming the address of) a stale schedule works.
        switched_on = values["enabled"] and not current["enabled"]
        if values["export_type"] != current["export_type"] or values["field_selection"] != current[
                "field_selection"] or switched_on:
            _refuse_unless_fields_fit(values["export_type"], values["field_selection"], Conflict)
        if values["delivery_method"] == "email" and not values["delivery_email"]:
            raise Conflict("delivery_email is required when delivery_method is email, and the schedule has none",
                           code="invalid_schedule")
        _refuse_email_without_sender(conn, caller, values)
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
            row = conn.execute("select substring(c.file_bytes from %s for %s) as part from public.export_files as f"
                               " join public.export_file_contents as c"
                               " on c.user_id = f.user_id and c.sha256 = f.content_sha256"
                               " where f.id = %s", [offset + 1, FILE_CHUNK_BYTES, file_id]).fetchone()
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
