"""Turns the query string of an export into a validated `ExportRequest`, or a 400 naming the problem.

Date bounds are half-open, `start <= export_date < end`:
- `startDate`/`endDate` are dates (`2026-03-01`) or RFC 3339 date-times (`2026-03-01T12:00:00Z`,
  `2026-03-01T12:00:00.5+05:30`); a date-time without an offset is UTC, and a date is a UTC day.
- A date-only `endDate` includes that whole day (the bound is the next midnight); a date-time
  `endDate` is included itself.
- No `startDate`: the type's `defaultDateRange` days before the end of the range (or before now).
  No `endDate`: no upper bound.
- For a type whose date column is a day (analytics), a day is in when it falls between the UTC
  days of the two bounds, both included.
- A bound must be written in a year from MIN_YEAR to MAX_YEAR (1900 to 9000).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from ..errors import BadRequest
from .catalog import EXPORT_CONFIGS, EXPORT_FORMATS, ExportConfig, ExportField, ExportFormat

# Spaces and tabs around field keys are ignored ("id, total"); the document's pattern says so.
_KEY_SPACE = " \t"
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339's date-time (T or t, Z or z, any number of fraction digits, a leap second), or the same
# without an offset (UTC); the OpenAPI document states these forms (service/exports/routes.py).
_DATE_TIME = re.compile(r"(?P<start>[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:)(?P<second>[0-9]{2})"
                        r"(?P<rest>(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)")
# Bounds are shifted by an offset, a day, a tick or defaultDateRange days; within these years none of
# that can leave datetime's range (years 1..9999), and no record we export is dated outside them.
MIN_YEAR, MAX_YEAR = 1900, 9000
_ONE_TICK = timedelta(microseconds=1)  # timestamptz resolution


@dataclass(frozen=True)
class ExportRequest:
    config: ExportConfig
    format: ExportFormat
    fields: tuple[ExportField, ...]
    start: datetime | date  # inclusive
    end: datetime | date | None  # exclusive; None = no upper bound
    limit: int | None
    max_records: int

    @property
    def extension(self) -> str:
        return self.format

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self.format == "csv" else "application/json"

    def filename(self, today: date) -> str:
        return f"{self.config.type}-export-{today.isoformat()}.{self.extension}"


def max_records_of(config: ExportConfig, override: int | None) -> int:
    return override if override is not None else config.max_records


def resolve_export_request(*, type: str | None, format: str | None, fields: str | None,
                           start_date: str | None, end_date: str | None, limit: int | None,
                           now: datetime, max_records_override: int | None = None) -> ExportRequest:
    if not type:
        raise BadRequest(f"type is required: one of {', '.join(EXPORT_CONFIGS)}", code="invalid_export")
    config = EXPORT_CONFIGS.get(type)
    if config is None:
        raise BadRequest(f"unknown export type {type!r}: one of {', '.join(EXPORT_CONFIGS)}",
                         code="invalid_export")
    chosen_format = "csv" if format is None else format  # "" is no format, not the default
    if chosen_format not in EXPORT_FORMATS:
        raise BadRequest(f"unknown format {chosen_format!r}: csv or json", code="invalid_export")
    max_records = max_records_of(config, max_records_override)
    if limit is not None and not 1 <= limit <= max_records:
        raise BadRequest(f"limit must be between 1 and {max_records} for {config.type}, not {limit}",
                         code="invalid_export")
    start, end = _date_range(config, start_date, end_date, now)
    return ExportRequest(config, chosen_format, _fields(config, fields), start, end,  # type: ignore[arg-type]
                         limit, max_records)


def _fields(config: ExportConfig, requested: str | None) -> tuple[ExportField, ...]:
    if requested is None or not requested.strip(_KEY_SPACE):
        return config.default_fields
    keys = [key.strip(_KEY_SPACE) for key in requested.split(",")]
    if "" in keys:
        raise BadRequest(f"fields has an empty name in {requested!r} (comma-separated field keys)",
                         code="invalid_export")
    unknown = [key for key in keys if config.field(key) is None]
    if unknown:
        raise BadRequest(
            f"unknown field(s) for {config.type}: {', '.join(unknown)}",
            code="invalid_export", details={"unknown": unknown, "allowed": [f.key for f in config.fields]})
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise BadRequest(f"field(s) listed more than once: {', '.join(repeated)}", code="invalid_export")
    return tuple(config.field(key) for key in keys)  # type: ignore[misc]


def _parse_bound(name: str, text: str) -> tuple[datetime, bool]:
    """The instant `text` names (UTC when it has no offset) and whether it was a date only."""
    value = text
    shape = _DATE_TIME.fullmatch(value)
    if not _DATE_ONLY.fullmatch(value) and shape is None:
        raise BadRequest(f"{name} is not a date: {text!r} (use YYYY-MM-DD or an RFC 3339 date-time such as"
                         " 2026-03-01T12:00:00Z; without an offset it is UTC)", code="invalid_export")
    leap_second = shape is not None and shape["second"] == "60"
    if shape is not None:  # the forms RFC 3339 allows that Python does not read: z, and a leap second
        value = f"{shape['start']}{'59' if leap_second else shape['second']}{shape['rest'].upper()}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:  # e.g. 2026-02-30
        raise BadRequest(f"{name} is not a date: {text!r} (use YYYY-MM-DD or an RFC 3339 date-time)",
                         code="invalid_export") from None
    # The year as written, before the offset is applied: applying it can itself overflow.
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise BadRequest(f"{name} is out of range: {text!r} (years {MIN_YEAR} to {MAX_YEAR})",
                         code="invalid_export")
    if shape is None:
        return parsed.replace(tzinfo=timezone.utc), True
    if leap_second:  # 23:59:60 is the instant before the next minute
        parsed = parsed.replace(microsecond=0) + timedelta(seconds=1)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc), False


def _date_range(config: ExportConfig, start_text: str | None, end_text: str | None,
                now: datetime) -> tuple[datetime | date, datetime | date | None]:
    end: datetime | None = None
    if end_text:
        end_at, date_only = _parse_bound("endDate", end_text)
        end = end_at + timedelta(days=1) if date_only else end_at + _ONE_TICK
    if start_text:
        start, _ = _parse_bound("startDate", start_text)
        if end is not None and start >= end:
            raise BadRequest(f"startDate {start_text!r} is after endDate {end_text!r}", code="invalid_export")
    else:
        start = (end or now) - timedelta(days=config.default_date_range)
    if config.date_kind == "date":
        last_day = None if end is None else (end - _ONE_TICK).date() + timedelta(days=1)
        return start.date(), last_day
    return start, end
