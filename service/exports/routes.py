"""`/api/export`: the field catalog, and streamed CSV/JSON exports as the calling user."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from ..api import Strict, endpoint
from ..context import services
from ..auth import Caller
from .catalog import EXPORT_CONFIGS
from .request import max_records_of, resolve_export_request
from .stream import open_export

bp = Blueprint("exports", __name__)


class ExportFieldOut(BaseModel):
    key: str
    label: str
    default: bool
    kind: str


class ExportConfigOut(BaseModel):
    """The plan's ExportConfig (camelCase, as the front end reads it), plus the date column."""

    type: str
    label: str
    description: str
    fields: list[ExportFieldOut]
    defaultDateRange: int = Field(description="days before the end of the range when no startDate is given")
    maxRecords: int = Field(description="the most rows one export may hold (and the largest limit)")
    dateField: str = Field(description="the column startDate/endDate filter on")


class ExportConfigs(BaseModel):
    configs: list[ExportConfigOut]


class ExportQuery(Strict):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    type: str = Field(description="leads, customers, orders, pins, quotes, assets or analytics")
    format: str = Field("csv", description="csv or json")
    fields: str | None = Field(None, description="comma-separated field keys; default: the type's defaults")
    start_date: str | None = Field(None, alias="startDate",
                                   description="YYYY-MM-DD or ISO 8601 date-time (UTC without an offset);"
                                               " default: defaultDateRange days before the end")
    end_date: str | None = Field(None, alias="endDate",
                                 description="YYYY-MM-DD (that whole day included) or date-time; default: none")
    limit: int | None = Field(None, description="at most this many rows, newest first (1..maxRecords)")


@bp.get("/api/export/configs")
@endpoint("The export types, their fields, default date range and row cap", response=ExportConfigs,
          tags=("exports",))
def export_configs() -> ExportConfigs:
    override = services().settings.export_max_records
    return ExportConfigs(configs=[
        ExportConfigOut(
            type=c.type, label=c.label, description=c.description,
            fields=[ExportFieldOut(key=f.key, label=f.label, default=f.default, kind=f.kind) for f in c.fields],
            defaultDateRange=c.default_date_range, maxRecords=max_records_of(c, override),
            dateField=c.date_source)
        for c in EXPORT_CONFIGS.values()
    ])


@bp.get("/api/export")
@endpoint("Download an export as CSV or JSON, streamed", query=ExportQuery, produces=("text/csv", "application/json"),
          tags=("exports",), errors=(429,),
          description="Streams the caller's rows newest first. X-Record-Count is the number of rows the body "
                      "holds (counted in the same snapshot before streaming); X-Export-Id names the "
                      "export_history row that records how the stream ended. 429 `too_many_exports`: the caller already "
                      "has HAVEN_EXPORT_MAX_CONCURRENT exports streaming.")
def export(caller: Caller, query: ExportQuery) -> Response:
    return export_response(caller, query)


def export_response(caller: Caller, query: ExportQuery) -> Response:
    """Validates the request (400 naming the problem), then streams the export as the caller, as
    the API and the console's download both answer it."""
    app_services = services()
    now = datetime.now(timezone.utc)
    request = resolve_export_request(
        type=query.type, format=query.format, fields=query.fields, start_date=query.start_date,
        end_date=query.end_date, limit=query.limit, now=now,
        max_records_override=app_services.settings.export_max_records)
    stream = open_export(app_services.db, caller.claims, caller.user_id, request,
                         statement_timeout_seconds=app_services.settings.export_statement_timeout_seconds,
                         max_concurrent=app_services.settings.export_max_concurrent)
    return Response(stream, status=200, content_type=request.media_type, headers={
        "Content-Disposition": f'attachment; filename="{request.filename(now.date())}"',
        "X-Record-Count": str(stream.expected_rows),
        "X-Export-Id": stream.history_id,
        "Cache-Control": "no-store",
    })
