"""The data page (plan Step 6.4): the export form (type, fields with the catalog's defaults, date
presets and custom dates, format) whose download is streamed exactly as GET /api/export streams
it, the export history, scheduled exports (create, list, edit, enable/disable, delete) and the
stored files they built. Everything is the API's own (service/exports/), as the signed-in user.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from flask import Response, redirect, request
from pydantic import ValidationError

from ..context import services
from ..errors import ApiError, validation_details
from ..exports.catalog import EXPORT_CONFIGS
from ..exports.routes import ExportQuery, export_response
from ..exports.schedule_routes import (ScheduleCreate, ScheduleUpdate, change_schedule, file_download, files_of,
                                       new_schedule, remove_schedule, schedules_of)
from . import outcomes, sessions, web

bp = web.blueprint("console_data")
PRESETS = (("default", "The type's default range"), ("7", "Last 7 days"), ("30", "Last 30 days"),
           ("90", "Last 90 days"), ("365", "Last 12 months"), ("custom", "Custom dates"))
HISTORY_ROWS = 20


def _caller():  # type: ignore[no-untyped-def]
    session = sessions.current()
    assert session is not None
    return session.caller


def data_page(*, status: int = 200, error: str | None = None, problems: list[str] | None = None,
              schedule_error: str | None = None, form: dict[str, Any] | None = None) -> Response:
    caller = _caller()
    chosen = (form or {}).get("type") or request.args.get("type") or "orders"
    config = EXPORT_CONFIGS.get(chosen) or EXPORT_CONFIGS["orders"]
    selected = set((form or {}).get("fields") or request.args.getlist("fields") or
                   [f.key for f in config.default_fields])
    with services().db.as_user(caller.claims) as conn:
        history = conn.execute(
            "select export_type, format, status, record_count, error, created_at, scheduled_export_id"
            " from public.export_history order by created_at desc, id limit %s", [HISTORY_ROWS]).fetchall()
    return web.render(
        "data.html", status=status, configs=EXPORT_CONFIGS, config=config, selected=selected, presets=PRESETS,
        form=form or request.args, history=history, schedules=schedules_of(caller).schedules,
        files=files_of(caller).files, error=error, problems=problems or [], schedule_error=schedule_error,
        outcome=None if (error or schedule_error) else outcomes.message(request.args, {}))


@bp.get("/console/data")
@web.signed_in
def data() -> Response:
    return data_page()


def _date_range(args: Any) -> tuple[str | None, str | None]:
    preset = args.get("preset", "default")
    if preset == "custom":
        return args.get("start") or None, args.get("end") or None
    if preset.isdigit():
        today = datetime.now(timezone.utc).date()
        return (today - timedelta(days=int(preset))).isoformat(), None
    return None, None


@bp.get("/console/data/export")
@web.signed_in
def export() -> Response:
    """The download: the form's choices become the API's query, answered by the API's own stream."""
    args = request.args
    fields = args.getlist("fields")
    start, end = _date_range(args)
    form = {"type": args.get("type"), "fields": fields, "preset": args.get("preset"), "start": args.get("start"),
            "end": args.get("end"), "format": args.get("format")}
    if not fields:
        return data_page(status=400, error="Choose at least one field to export.", form=form)
    try:
        query = ExportQuery(type=args.get("type", ""), format=args.get("format", "csv"), fields=",".join(fields),
                            startDate=start, endDate=end)
        return export_response(_caller(), query)
    except ValidationError as exc:
        return data_page(status=400, error="Please check the export form.", form=form,
                         problems=[f"{d['field']}: {d['problem']}" for d in validation_details(exc)])
    except ApiError as exc:
        return data_page(status=exc.status, error=exc.message, form=form)


def _schedule_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "export_type": form.get("export_type", ""), "format": form.get("format", "csv"),
        "frequency": form.get("frequency", ""), "delivery_method": form.get("delivery_method", "download"),
        "date_range_type": form.get("date_range_type") or None,
        "delivery_email": (form.get("delivery_email") or "").strip() or None,
        "field_selection": form.getlist("field_selection") or None,
    }
    return values


@bp.post("/console/data/schedules")
@web.signed_in
def create_schedule() -> Response:
    try:
        new_schedule(_caller(), ScheduleCreate.model_validate(_schedule_values(request.form)))
    except ValidationError as exc:
        return data_page(status=400, schedule_error="; ".join(f"{d['field']}: {d['problem']}"
                                                              for d in validation_details(exc)))
    except ApiError as exc:
        return data_page(status=exc.status, schedule_error=exc.message)
    return redirect("/console/data?done=created#schedules", code=303)


@bp.get("/console/data/schedules/<uuid:schedule_id>")
@web.signed_in
def edit_schedule(schedule_id: UUID, *, status: int = 200, error: str | None = None) -> Response:
    found = next((s for s in schedules_of(_caller()).schedules if s.id == schedule_id), None)
    if found is None:
        return web.problem_page("There is no such schedule", "It may have been deleted.", 404)
    return web.render("schedule.html", status=status, schedule=found, configs=EXPORT_CONFIGS, error=error)


@bp.post("/console/data/schedules/<uuid:schedule_id>")
@web.signed_in
def update_schedule(schedule_id: UUID) -> Response:
    values = _schedule_values(request.form)
    values["enabled"] = request.form.get("enabled") == "on"
    try:
        change_schedule(_caller(), schedule_id, ScheduleUpdate.model_validate(values))
    except ValidationError as exc:
        return edit_schedule(schedule_id, status=400, error="; ".join(
            f"{d['field']}: {d['problem']}" for d in validation_details(exc)))
    except ApiError as exc:
        return edit_schedule(schedule_id, status=exc.status, error=exc.message)
    return redirect("/console/data?done=updated#schedules", code=303)


@bp.post("/console/data/schedules/<uuid:schedule_id>/enabled")
@web.signed_in
def toggle_schedule(schedule_id: UUID) -> Response:
    enabled = request.form.get("enabled") == "true"
    change_schedule(_caller(), schedule_id, ScheduleUpdate(enabled=enabled))
    return redirect("/console/data?done=updated#schedules", code=303)


@bp.post("/console/data/schedules/<uuid:schedule_id>/delete")
@web.signed_in
def delete_schedule(schedule_id: UUID) -> Response:
    remove_schedule(_caller(), schedule_id)
    return redirect("/console/data?done=deleted#schedules", code=303)


@bp.get("/console/data/files/<uuid:file_id>")
@web.signed_in
def download_file(file_id: UUID) -> Response:
    return file_download(_caller(), file_id)


def today() -> date:
    return datetime.now(timezone.utc).date()
