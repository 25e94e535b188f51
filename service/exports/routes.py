"""`/api/export`: the field catalog, and streamed CSV/JSON exports as the calling user."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from ..api import Strict, endpoint
from ..context import services
from ..auth import Caller
from .catalog import EXPORT_CONFIGS, EXPORT_FORMATS
from .request import MAX_YEAR, MIN_YEAR, max_records_of, resolve_export_request
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


_ALL_KEYS = sorted({f.key for config in EXPORT_CONFIGS.values() for f in config.fields})
_KEY = "(" + "|".join(_ALL_KEYS) + ")"
# A bound as written (request.py's rules): a date or an RFC 3339 date-time, or a date-time without
# an offset (UTC), in a year from MIN_YEAR to MAX_YEAR. The form without an offset is a pattern,
# with every day of every month but 29 February (which is accepted too, in a leap year).
_YEAR = f"(19[0-9]{{2}}|[2-8][0-9]{{3}}|{MAX_YEAR})"
_MONTH_DAY = "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_BOUND_SCHEMA = {"type": "string", "anyOf": [
    {"maxLength": 0},  # empty: as if not given
    {"pattern": f"^{_YEAR}-", "anyOf": [{"format": "date"}, {"format": "date-time"},
                                        {"pattern": f"^{_YEAR}-{_MONTH_DAY}[Tt]{_TIME}$"}]}]}
assert MIN_YEAR == 1900, "the patterns above state 1900 as the first year"
_KEY_LIST = f"^[ \\t]*({_KEY}[ \\t]*(,[ \\t]*{_KEY}[ \\t]*)*)?$"


class ExportQuery(Strict):
    """Each parameter's schema states what it may be (request.py checks it, naming the problem).
    What one parameter may be given another, which OpenAPI cannot state, is in the description."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(description="leads, customers, orders, pins, quotes, assets or analytics",
                      json_schema_extra={"enum": list(EXPORT_CONFIGS)})
    format: str = Field("csv", description="csv or json", json_schema_extra={"enum": list(EXPORT_FORMATS)})
    fields: str | None = Field(None, description="comma-separated field keys of the type, each once; default:"
                                                 " the type's defaults",
                               json_schema_extra={"pattern": _KEY_LIST})
    start_date: str | None = Field(None, alias="startDate",
                                   description="YYYY-MM-DD or RFC 3339 date-time (UTC without an offset), years"
                                               f" {MIN_YEAR}-{MAX_YEAR}; default (or empty): defaultDateRange days"
                                               " before the end", json_schema_extra=_BOUND_SCHEMA)
    end_date: str | None = Field(None, alias="endDate",
                                 description="YYYY-MM-DD (that whole day included) or RFC 3339 date-time, years"
                                             f" {MIN_YEAR}-{MAX_YEAR}; default (or empty): none",
                                 json_schema_extra=_BOUND_SCHEMA)
    limit: int | None = Field(None, description="at most this many rows, newest first (1..maxRecords of the type)",
                              json_schema_extra={"minimum": 1,
                                                 "maximum": max(c.max_records for c in EXPORT_CONFIGS.values())})


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
                      "export_history row that records how the stream ended. Beyond each parameter's schema, a "
                      "400 names: fields that are not the type's (GET /api/export/configs lists them), startDate "
                      "after endDate, a limit above the type's maxRecords, and (`export_too_large`) a range "
                      "holding more rows than maxRecords without a limit. 429 `too_many_exports`: the caller "
                      "already has HAVEN_EXPORT_MAX_CONCURRENT exports streaming.")
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
