"""Scheduled exports in the worker: queue each due run, build its file, deliver it once.

`exports.run_due` (periodic) claims due schedules (`claim_due_exports`, SKIP LOCKED), queues one
`exports.scheduled_run` item per run — payload: the schedule id and the run time, nothing
secret — and advances the schedule, all in one transaction: a crash before the commit leaves the
schedule due (it is claimed again), after it the run is queued exactly once.

The item's handler, idempotent as every handler must be:
1. Nothing to do when the schedule was deleted or switched off, or the run was delivered already.
2. The file is built once per run, **as the schedule's owner** (RLS bounds it to what they could
   download), for the run's period: last_week = the 7 days before the run time, last_month = the
   calendar month before it, all_time = everything before it. It is stored in `export_files`
   with its `export_history` row; a retry reuses it, so a re-sent email carries the same bytes.
   Identical bytes are stored once per user (`store_export_file`), and a user's live stored files
   may take at most HAVEN_EXPORT_STORED_BYTES_PER_USER together. A period over the type's row cap,
   a file over the size cap or past the stored-bytes cap fails permanently, recorded in
   export_history with advice the schedule can follow (never a truncated file).
3. Delivery: `download` marks the run delivered (the file is at GET /api/export/files/<id>);
   `email` sends it through the catalog's mailer (Resend) as a base64 attachment with an
   Idempotency-Key derived from the schedule, the run and the addresses, then records the email
   id on the run. A retry after
   an ambiguous timeout sends the same key and payload, so Resend returns the first email's id
   instead of sending a second.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from .. import vault
from ..auth import claims_for
from ..config import Settings
from ..errors import ApiError, PermanentError, ProviderError, sqlstate_of
from ..integrations.catalog import Catalog, Mailer, Provider
from ..queue.enqueue import enqueue
from ..queue.registry import Job, Registry, WorkerContext
from . import history
from .catalog import EXPORT_CONFIGS
from .request import ExportRequest, resolve_export_request
from .stream import open_export

log = logging.getLogger(__name__)

RUN_OPERATION = "exports.scheduled_run"
CLAIM_BATCH = 50
MAX_CLAIM_ROUNDS = 20  # per tick; a backlog bigger than this waits for the next tick
PRUNE_EVERY_SECONDS = 3600.0
# Room left in one email (Resend: 40 MB) for the JSON around the attachment (addresses, subject, text).
EMAIL_ENVELOPE_BYTES = 64 * 1024


# -- queueing due runs ----------------------------------------------------------------------------

def queue_due_runs(context: WorkerContext) -> int:
    """Queues every due run (a schedule behind by several periods gets one run per period)."""
    queued = 0
    for _ in range(MAX_CLAIM_ROUNDS):
        with context.db.as_service() as conn:
            due = conn.execute("select id::text, user_id::text, next_run_at from public.claim_due_exports(%s)",
                               [CLAIM_BATCH]).fetchall()
            for schedule in due:
                payload = {"schedule_id": schedule["id"], "run_at": schedule["next_run_at"].isoformat()}
                enqueue(conn, schedule["user_id"], RUN_OPERATION, payload, reference_id=schedule["id"],
                        reference_table="scheduled_exports")
                conn.execute("select public.advance_scheduled_export(%s)", [schedule["id"]])
        if not due:
            break
        queued += len(due)  # a schedule several periods behind is due again: claim once more
    if queued:
        log.info("queued %d scheduled export run(s)", queued)
    return queued


def prune_expired_files(context: WorkerContext) -> None:
    with context.db.as_service() as conn:
        row = conn.execute("select public.prune_export_files() as pruned").fetchone()
    if row and row["pruned"]:
        log.info("pruned %d expired export file(s)", row["pruned"])


# -- one run ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuiltFile:
    history_id: str
    file_id: str
    export_type: str
    filename: str
    content_type: str
    data: bytes
    record_count: int


def run_period(date_range_type: str | None, frequency: str, run_at: datetime) -> tuple[datetime | None, datetime]:
    """The [start, end) a run exports: the period before its run time (start None = all time)."""
    kind = date_range_type or ("last_month" if frequency == "monthly" else "last_week")
    if kind == "last_week":
        return run_at - timedelta(days=7), run_at
    if kind == "last_month":
        month = run_at.month - 1 or 12
        year = run_at.year - (1 if run_at.month == 1 else 0)
        day = min(run_at.day, _days_in_month(year, month))
        return run_at.replace(year=year, month=month, day=day), run_at
    if kind == "all_time":
        return None, run_at
    raise PermanentError(f"unknown date_range_type {date_range_type!r}")


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _request(schedule: dict[str, Any], run_at: datetime, settings: Settings) -> ExportRequest:
    start, end = run_period(schedule["date_range_type"], schedule["frequency"], run_at)
    # An end date-time is included by the endpoint's rules; the run time itself is not.
    last_instant = end - timedelta(microseconds=1)
    return resolve_export_request(
        type=schedule["export_type"], format=schedule["format"],
        fields=",".join(schedule["field_selection"] or []) or None,
        start_date=(start or datetime(1970, 1, 1, tzinfo=timezone.utc)).isoformat(),
        end_date=last_instant.isoformat(), limit=None, now=run_at,
        max_records_override=settings.export_max_records)


def _record_unbuilt(context: WorkerContext, user_id: str, run_at: datetime, request: ExportRequest | None,
                    schedule: dict[str, Any], error: str) -> None:
    config = EXPORT_CONFIGS[schedule["export_type"]]  # a CHECK keeps export_type in the catalog
    fields = [f.key for f in (request.fields if request else config.default_fields)]
    history.record_unbuilt_run(context.db, user_id, schedule, run_at, fields, error)


def _max_file_bytes(context: WorkerContext, delivery_method: str) -> int:
    settings = context.settings
    found = context.providers.mailer()
    if delivery_method != "email" or found is None:
        return settings.export_file_max_bytes
    # base64 turns 3 bytes into 4.
    fits_one_email = (found[1].max_message_bytes - EMAIL_ENVELOPE_BYTES) // 4 * 3
    return min(settings.export_attachment_max_bytes, fits_one_email)


def too_many_rows_advice(schedule: dict[str, Any], max_records: int) -> str:
    """What a schedule whose period holds more rows than one export may can change: its period
    (never "pass limit", which a schedule has no way to, nor fewer fields, which keeps the rows)."""
    kind = schedule["date_range_type"] or ("last_month" if schedule["frequency"] == "monthly" else "last_week")
    what = f"this run's period holds more than {max_records} {schedule['export_type']}, the most one export may hold"
    if kind == "all_time":
        return (f"{what}: change the schedule's date_range_type to last_month (with a monthly frequency) or"
                " last_week (with a weekly frequency), so each run exports one period")
    if kind == "last_month":
        return f"{what}: change the schedule to date_range_type last_week and a weekly frequency"
    return (f"{what}, and a week is the shortest period a schedule exports: download it in parts from"
            " GET /api/export with startDate/endDate instead")


def _build(context: WorkerContext, schedule: dict[str, Any], run_at: datetime) -> BuiltFile:
    settings = context.settings
    user_id, schedule_id = str(schedule["user_id"]), str(schedule["id"])
    request: ExportRequest | None = None
    try:
        request = _request(schedule, run_at, settings)
        stream = open_export(context.db, claims_for(user_id, None), user_id, request,
                             statement_timeout_seconds=settings.export_statement_timeout_seconds,
                             scheduled_run=(schedule_id, run_at))
    except ApiError as refused:  # a stored selection the catalog no longer has; a range over the cap
        reason = too_many_rows_advice(schedule, request.max_records) \
            if refused.code == "export_too_large" and request is not None else refused.message
        _record_unbuilt(context, user_id, run_at, request, schedule, reason)
        raise PermanentError(f"the scheduled export cannot be built: {reason}") from None
    cap = _max_file_bytes(context, schedule["delivery_method"])
    data = bytearray()
    too_large = False
    try:
        for chunk in stream:
            data += chunk
            if len(data) > cap:
                too_large = True
                break
    finally:
        stream.close()
    if too_large:
        where = "an email attachment" if schedule["delivery_method"] == "email" else "a stored export file"
        message = (f"the file is larger than {cap} bytes, the most {where} may hold: narrow the fields or"
                   " the date range, or use another delivery method")
        history.fail_built(context.db, stream.history_id, message)
        raise PermanentError(message)
    filename = request.filename(run_at.date())
    try:
        with context.db.as_service() as conn:
            row = conn.execute(
                "select public.store_export_file(%s, %s, %s, %s, %s, %s, now() + make_interval(days => %s), %s)::text"
                " as id",
                [user_id, stream.history_id, filename, request.media_type, bytes(data), stream.expected_rows,
                 settings.export_file_retention_days, settings.export_stored_bytes_per_user]).fetchone()
    except psycopg.Error as refused:
        meaning = sqlstate_of(refused)
        if meaning is None or meaning.retryable:
            raise
        # Past the user's stored-bytes cap (limit_reached): the message names the cap.
        message = refused.diag.message_primary or meaning.code
        history.fail_built(context.db, stream.history_id, message)
        raise PermanentError(message) from None
    assert row is not None
    return BuiltFile(stream.history_id, row["id"], request.config.type, filename, request.media_type,
                     bytes(data), stream.expected_rows)


def _built(context: WorkerContext, schedule_id: str, run_at: datetime) -> BuiltFile | None:
    """The file an earlier attempt of this run built, if it is still kept."""
    with context.db.as_service() as conn:
        row = conn.execute(
            "select h.id::text as history_id, f.id::text as file_id, h.export_type, f.filename, f.content_type,"
            " c.file_bytes, f.record_count"
            " from public.export_history as h join public.export_files as f on f.export_history_id = h.id"
            " join public.export_file_contents as c on c.user_id = f.user_id and c.sha256 = f.content_sha256"
            " where h.scheduled_export_id = %s and h.scheduled_for = %s and h.status = 'completed'"
            " order by h.created_at desc limit 1",
            [schedule_id, run_at]).fetchone()
    if row is None:
        return None
    return BuiltFile(row["history_id"], row["file_id"], row["export_type"], row["filename"], row["content_type"],
                     bytes(row["file_bytes"]), row["record_count"])


def idempotency_key(schedule_id: str, run_at: datetime, sender: str, recipient: str) -> str:
    """One key per run and addresses: a retry reuses it; a changed address is a new email."""
    addresses = hashlib.sha256(f"{sender}\n{recipient}".encode()).hexdigest()[:16]
    return f"haven-scheduled-export/{schedule_id}/{run_at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}/{addresses}"


def email_message(built: BuiltFile, sender: str, recipient: str, run_at: datetime) -> dict[str, Any]:
    """The email of one run. Only the run's file, its time and the addresses go in, never the
    schedule's current settings: a retry must send exactly the same payload under its key."""
    label = EXPORT_CONFIGS[built.export_type].label
    day = run_at.astimezone(timezone.utc).date().isoformat()
    rows = f"{built.record_count} row{'s' if built.record_count != 1 else ''}"
    return {
        "from": sender,
        "to": [recipient],
        "subject": f"Your scheduled {label.lower()} export ({day})",
        "text": f"Your scheduled {label.lower()} export of {day} is attached: {built.filename}, {rows}.\n",
        "attachments": [{"filename": built.filename, "content": base64.b64encode(built.data).decode("ascii"),
                         "content_type": built.content_type}],
    }


def no_email_sender(conn: psycopg.Connection[Any], settings: Settings, providers: Catalog,
                    user_id: str) -> str | None:
    """Why emailed exports of this user cannot be sent now (no mailing provider, not connected, no
    sender address), or None. The schedules API refuses an email schedule for the same reasons."""
    found = providers.mailer()
    if found is None:
        return "this server has no email provider: switch the schedule to download"
    provider = found[0]
    integration = conn.execute("select status, metadata from public.integrations"
                               " where user_id = %s and provider = %s", [user_id, provider.name]).fetchone()
    if integration is None or integration["status"] == "disconnected":
        return (f"{provider.label} is not connected: connect {provider.label} to receive scheduled exports by"
                " email, or switch the schedule to download")
    if not ((integration["metadata"] or {}).get("from_email") or settings.export_email_from):
        return (f"no sender address for scheduled export emails: set from_email on the {provider.label}"
                " connection (or HAVEN_EXPORT_EMAIL_FROM)")
    return None


def _mail_access(context: WorkerContext, user_id: str) -> tuple[Provider, Mailer, str, str]:
    """The mailing provider, its API key and the sender, or PermanentError saying what to connect."""
    with context.db.as_service() as conn:
        problem = no_email_sender(conn, context.settings, context.providers, user_id)
        if problem is not None:
            raise PermanentError(problem)
        provider, mailer = context.providers.mailer()  # type: ignore[misc]  # no_email_sender found it
        integration = conn.execute("select metadata from public.integrations where user_id = %s and provider = %s",
                                   [user_id, provider.name]).fetchone()
        api_key = vault.get_credential(conn, user_id, provider.name, "api_key", reader=RUN_OPERATION,
                                       purpose="email a scheduled export")
    if not api_key:
        raise PermanentError(f"{provider.label} is not connected: connect {provider.label} to receive scheduled"
                             " exports by email, or switch the schedule to download")
    sender = (integration["metadata"] or {}).get("from_email") or context.settings.export_email_from
    return provider, mailer, api_key, sender


def _deliver_by_email(context: WorkerContext, schedule: dict[str, Any], run_at: datetime, built: BuiltFile) -> None:
    user_id, schedule_id = str(schedule["user_id"]), str(schedule["id"])
    try:
        provider, mailer, api_key, sender = _mail_access(context, user_id)
    except PermanentError as missing:
        history.record_delivery_error(context.db, built.history_id, str(missing))
        raise
    recipient = schedule["delivery_email"]
    message = email_message(built, sender, recipient, run_at)
    key = idempotency_key(schedule_id, run_at, sender, recipient)
    try:
        email_id = mailer.send(context.settings, api_key, message, key)
    except ProviderError as failed:  # refused: fails for good; unavailable: tried again later
        history.record_delivery_error(context.db, built.history_id, failed.reason)
        raise
    history.record_delivery(context.db, built.history_id, "email", email_id)
    log.info("scheduled export %s (run %s) emailed: %s id %s", schedule_id, run_at.isoformat(), provider.label,
             email_id)


def _parse_payload(job: Job) -> tuple[str, datetime]:
    try:
        schedule_id = str(job.payload["schedule_id"])
        run_at = datetime.fromisoformat(str(job.payload["run_at"]))
    except (KeyError, ValueError):
        raise PermanentError("the item's payload needs schedule_id and an ISO 8601 run_at") from None
    if run_at.tzinfo is None:
        raise PermanentError("run_at has no time zone")
    return schedule_id, run_at.astimezone(timezone.utc)


def run_scheduled_export(job: Job) -> None:
    context = job.context
    schedule_id, run_at = _parse_payload(job)
    with context.db.as_service() as conn:
        schedule = conn.execute("select * from public.scheduled_exports where id = %s", [schedule_id]).fetchone()
    if schedule is None:
        log.info("scheduled export %s was deleted; run %s dropped", schedule_id, run_at.isoformat())
        return
    if str(schedule["user_id"]) != job.user_id:
        raise PermanentError("the schedule belongs to another user than the item")
    if not schedule["enabled"]:
        log.info("scheduled export %s is switched off; run %s dropped", schedule_id, run_at.isoformat())
        return
    if history.run_delivered(context.db, schedule_id, run_at):
        return
    built = _built(context, schedule_id, run_at) or _build(context, schedule, run_at)
    if schedule["delivery_method"] == "email":
        _deliver_by_email(context, schedule, run_at, built)
    else:
        history.record_delivery(context.db, built.history_id, "download", None)


def register(registry: Registry, settings: Settings) -> None:
    registry.handler(RUN_OPERATION, run_scheduled_export)
    registry.periodic("exports.run_due", settings.export_schedule_poll_seconds, queue_due_runs)
    registry.periodic("exports.prune_files", PRUNE_EVERY_SECONDS, prune_expired_files)
