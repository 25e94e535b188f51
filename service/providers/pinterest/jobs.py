"""The Pinterest worker jobs: syncing boards, pins and their metrics, the account's figures and ad
accounts; creating boards; publishing due scheduled pins; deleting pins; and the boards' end when
the user disconnects. See docs/pinterest.md.

Every call to Pinterest runs in a queued item, so a failure is tried again when it can help (429
after the limit's reset, 5xx, timeouts: `service.errors.retryable` and `retry_delay`) and stays on
the failed-operations list when it cannot.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...config import Settings
from ...errors import PermanentError, ProviderAuthError, ProviderRejected, retryable
from ...integrations import records, tokens
from ...queue.enqueue import enqueue
from ...queue.registry import Job, Registry, WorkerContext
from ...queue.worker import error_text
from .client import ANALYTICS_DAYS, NAME, PinterestClient
from .oauth import SYNC_BOARDS, SYNC_DATA, client, refresher

log = logging.getLogger(__name__)

CREATE_BOARD = "pinterest.create_board"
CREATE_PIN = "pinterest.create_pin"
DELETE_PIN = "pinterest.delete_pin"
QUEUE_DATA_SYNCS = "pinterest.queue_data_syncs"
PUBLISH_DUE_PINS = "pinterest.publish_due_pins"
# Due pins claimed per statement; a run claims batches until none is left (or this many batches).
PUBLISH_BATCH = 100
PUBLISH_MAX_BATCHES = 50
# A sync that stopped this recently is resumed (its pins' metrics already read are not read again)
# rather than begun afresh.
RESUME_WITHIN = timedelta(days=1)
# Ad accounts kept in the metadata (the count is kept whole).
MAX_AD_ACCOUNTS_KEPT = 50
MAX_ERROR_CHARS = 300


def _refresher_or_fail(settings: Settings) -> Any:
    pinterest_refresher = refresher(settings)
    if pinterest_refresher is None:
        raise PermanentError("Pinterest is not configured on this server")
    return pinterest_refresher


def _access(job: Job) -> str:
    return tokens.access_token(job.context.db, _refresher_or_fail(job.context.settings), job.user_id,
                               reader=job.operation_type)


@contextmanager
def _token_refusal(job: Job) -> Iterator[None]:
    """A token we believe valid refused (the user removed the app on Pinterest): the integration
    is expired and the item fails for good, the user must reconnect."""
    try:
        yield
    except ProviderAuthError as refused:
        with job.context.db.as_service() as conn:
            current = records.lock(conn, job.user_id, NAME)
            if current is not None and current["status"] == "connected":
                records.mark_error(conn, job.user_id, NAME,
                                   "Pinterest refused the access token; reconnect Pinterest", status="expired")
        raise tokens.ReconnectRequired("Pinterest refused the access token; the user must reconnect") from refused


def _connected(conn: psycopg.Connection[Any], user_id: str) -> Mapping[str, Any] | None:
    """The integration row, locked, when it is connected."""
    current = records.lock(conn, user_id, NAME)
    return current if current is not None and current["status"] == "connected" else None


def _failure_text(exc: BaseException) -> str:
    """What a pin's last_error and the sync state say: the queue's own wording of the failure
    (URLs without their query strings), cut short."""
    return error_text(exc)[:MAX_ERROR_CHARS]


# -- boards ----------------------------------------------------------------------------------------

def sync_boards(job: Job) -> None:
    """Reads every page, then replaces the user's set and board_count in one transaction (an
    interrupted sync leaves the previous complete set)."""
    access = _access(job)
    with _token_refusal(job):
        boards = [asdict(board) for board in client(job.context.settings).boards(access)]
    _replace_boards(job, boards)


def _replace_boards(job: Job, boards: list[dict[str, Any]]) -> bool:
    """False when the integration was disconnected while we read: its boards are gone, keep them gone."""
    with job.context.db.as_service() as conn:
        if _connected(conn, job.user_id) is None:
            return False
        row = conn.execute("select public.replace_pinterest_boards(%s, %s) as n",
                           [job.user_id, Jsonb(boards)]).fetchone()
        assert row is not None
        records.merge_metadata(conn, job.user_id, NAME, {"board_count": int(row["n"])})
    return True


def create_board(job: Job) -> None:
    """Creates the board on Pinterest, then stores it (and the new board_count). Not idempotent on
    Pinterest's side: a retry after Pinterest created the board but our commit failed makes a
    second board (docs/pinterest.md, known limits)."""
    payload = job.payload
    name, privacy = payload.get("name"), payload.get("privacy", "PUBLIC")
    if not isinstance(name, str) or not name or not isinstance(privacy, str):
        raise PermanentError("pinterest.create_board: the payload needs a name and a privacy")
    description = payload.get("description")
    access = _access(job)
    with _token_refusal(job):
        board = client(job.context.settings).create_board(
            access, name=name, description=description if isinstance(description, str) else None, privacy=privacy)
    with job.context.db.as_service() as conn:
        if _connected(conn, job.user_id) is None:
            raise tokens.NotConnected("Pinterest was disconnected; the board was created on Pinterest only")
        conn.execute("select public.upsert_pinterest_board(%s, %s)", [job.user_id, Jsonb(asdict(board))])
        count = conn.execute("select count(*)::int as n from public.pinterest_boards where user_id = %s",
                             [job.user_id]).fetchone()
        assert count is not None
        records.merge_metadata(conn, job.user_id, NAME, {"board_count": count["n"]})


# -- the data sync: boards, pins, metrics, the account's figures, ad accounts ------------------------

def _sync_started(conn: psycopg.Connection[Any], metadata: Mapping[str, Any]) -> datetime:
    """When this sync counts as begun: a sync that stopped half-way recently is resumed from its
    own start (so what it did stays done), else now (the database's clock)."""
    now_row = conn.execute("select now() as now").fetchone()
    assert now_row is not None
    now: datetime = now_row["now"]
    previous = metadata.get("data_sync")
    if isinstance(previous, dict) and previous.get("state") in ("running", "incomplete"):
        try:
            started = datetime.fromisoformat(str(previous.get("started_at")))
        except ValueError:
            return now
        if started.tzinfo is not None and now - RESUME_WITHIN < started <= now:
            return started
    return now


def _record_sync(job: Job, state: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    with job.context.db.as_service() as conn:
        if _connected(conn, job.user_id) is not None:
            records.merge_metadata(conn, job.user_id, NAME, {"data_sync": dict(state), **(extra or {})})


def sync_data(job: Job) -> None:
    """Boards, every page of pins (each page written as it arrives), each pin's daily metrics in
    Pinterest's window, the account's daily impressions and clicks, and the ad accounts. Only a
    sync that got through every step records itself complete and removes the pins it did not
    see; one that stops (a 429, a 5xx) records `incomplete` with the reason, removes nothing, and
    fails its attempt so the queue tries again (after the limit's reset), resuming its metrics."""
    db, settings = job.context.db, job.context.settings
    with db.as_service() as conn:
        current = _connected(conn, job.user_id)
        if current is None:
            raise tokens.NotConnected("Pinterest is not connected")
        started = _sync_started(conn, current["metadata"] or {})
        state: dict[str, Any] = {"state": "running", "started_at": started.isoformat(), "attempt": job.attempt,
                                 "pins_read": 0}
        records.merge_metadata(conn, job.user_id, NAME, {"data_sync": state})
    try:
        _sync_data(job, settings, started, state)
    except Exception as exc:
        state.update(state="incomplete", stopped_at=datetime.now(timezone.utc).isoformat(),
                     error=_failure_text(exc))
        try:
            _record_sync(job, state)
        except psycopg.Error:
            log.exception("could not record the incomplete Pinterest sync of user %s", job.user_id)
        raise


def _sync_data(job: Job, settings: Settings, started: datetime, state: dict[str, Any]) -> None:
    db = job.context.db
    pinterest = client(settings)
    access = _access(job)
    with _token_refusal(job):
        if not _replace_boards(job, [asdict(board) for board in pinterest.boards(access)]):
            raise tokens.NotConnected("Pinterest was disconnected during the sync")
        for page in pinterest.pins(access):
            with db.as_service() as conn:
                if _connected(conn, job.user_id) is None:
                    raise tokens.NotConnected("Pinterest was disconnected during the sync")
                conn.execute("select public.upsert_pinterest_pins(%s, %s, %s)",
                             [job.user_id, Jsonb([asdict(pin) for pin in page]), started])
            state["pins_read"] += len(page)
        with db.as_service() as conn:
            row = conn.execute("select public.finish_pinterest_pin_sync(%s, %s) as n", [job.user_id, started]).fetchone()
            assert row is not None
            state["pins_removed"] = int(row["n"])

        end = datetime.now(timezone.utc).date()
        # Pinterest refuses a start more than 90 days back; a day less leaves room for the date
        # to turn between our clock and theirs.
        start = end - timedelta(days=min(max(settings.pinterest_analytics_days, 1), ANALYTICS_DAYS) - 1)
        state["metrics_window"] = [start.isoformat(), end.isoformat()]
        state["pins_with_metrics"], state["pins_without_metrics"] = _sync_pin_metrics(
            job, pinterest, access, started, start, end)

        days = pinterest.account_analytics(access, start, end)
        with db.as_service() as conn:
            conn.execute("select public.record_pinterest_account_metrics(%s, %s)",
                         [job.user_id, Jsonb([asdict(day) for day in days])])
        state["account_days"] = len(days)

        extra: dict[str, Any]
        try:
            accounts = pinterest.ad_accounts(access)
        except ProviderRejected as refused:
            # No ads scope, or no business account: nothing to list, and nothing wrong.
            extra = {"ad_accounts": [], "ad_account_count": 0,
                     "ad_accounts_note": f"Pinterest did not list ad accounts ({refused.status})"}
        else:
            extra = {"ad_accounts": [asdict(a) for a in accounts[:MAX_AD_ACCOUNTS_KEPT]],
                     "ad_account_count": len(accounts), "ad_accounts_note": None}
    state.update(state="complete", finished_at=datetime.now(timezone.utc).isoformat())
    state.pop("error", None)
    state.pop("stopped_at", None)
    _record_sync(job, state, extra)


def _sync_pin_metrics(job: Job, pinterest: PinterestClient, access: str, started: datetime,
                      start: Any, end: Any) -> tuple[int, int]:
    """Each published pin's days not read since this sync began (a resumed sync skips the pins it
    did); a pin Pinterest will not report on (403: not the account's own, 404: gone) is counted
    and stamped, not retried for ever. (pins read, pins without metrics)"""
    db = job.context.db
    with db.as_service() as conn:
        pins = conn.execute(
            "select id::text, pinterest_pin_id from public.pins where user_id = %s and status = 'published'"
            " and pinterest_pin_id is not null and (metrics_synced_at is null or metrics_synced_at < %s)"
            " order by metrics_synced_at nulls first, id", [job.user_id, started]).fetchall()
    read = unavailable = 0
    for pin in pins:
        try:
            days = pinterest.pin_analytics(access, pin["pinterest_pin_id"], start, end)
        except ProviderRejected as refused:
            if refused.status not in (403, 404):
                raise
            days, unavailable = [], unavailable + 1
        else:
            read += 1
        with db.as_service() as conn:
            # The rate as text: JSON has no decimal type, and a float would round it.
            conn.execute("select public.record_pin_metrics(%s, %s, %s)",
                         [job.user_id, pin["id"],
                          Jsonb([{**asdict(day), "engagement_rate": str(day.engagement_rate)} for day in days])])
    return read, unavailable


def queue_data_syncs(context: WorkerContext) -> None:
    """Periodic: queues a data sync for every connected Pinterest integration without one pending
    or running."""
    with context.db.as_service() as conn:
        users = conn.execute(
            "select i.user_id::text from public.integrations as i where i.provider = %s and i.status = 'connected'"
            " and not exists (select from public.retry_queue as q where q.user_id = i.user_id"
            " and q.operation_type = %s and q.status in ('pending', 'processing'))",
            [NAME, SYNC_DATA]).fetchall()
        for row in users:
            enqueue(conn, row["user_id"], SYNC_DATA)
    if users:
        log.info("queued %d Pinterest data sync(s)", len(users))


# -- publishing and deleting pins ---------------------------------------------------------------------

def publish_due_pins(context: WorkerContext) -> None:
    """Periodic: claims the due scheduled pins (publishing, in SQL, SKIP LOCKED) and queues one
    pinterest.create_pin for each in the same transaction, so a pin is never claimed without its
    item nor queued twice."""
    queued = 0
    for _ in range(PUBLISH_MAX_BATCHES):
        with context.db.as_service() as conn:
            claimed = conn.execute("select pin_id::text, user_id::text from public.claim_due_pins(%s)",
                                   [PUBLISH_BATCH]).fetchall()
            for row in claimed:
                enqueue(conn, row["user_id"], CREATE_PIN, {"pin_id": row["pin_id"]},
                        reference_id=row["pin_id"], reference_table="pins")
        queued += len(claimed)
        if len(claimed) < PUBLISH_BATCH:
            break
    if queued:
        log.info("queued %d due pin(s) for publishing", queued)


def create_pin(job: Job) -> None:
    """Posts a claimed pin to Pinterest and stores its Pinterest id, published_at and status. A
    refusal (4xx) fails the item for good with Pinterest's reason and marks the pin failed with
    it; a retryable failure is tried again, and the pin is marked failed when the last attempt
    fails too. Not idempotent on Pinterest's side (docs/pinterest.md, known limits)."""
    pin_id = job.payload.get("pin_id")
    if not isinstance(pin_id, str):
        raise PermanentError("pinterest.create_pin: the payload needs a pin_id")
    with job.context.db.as_service() as conn:
        pin = conn.execute(
            "select p.id::text, p.status, p.title, p.description, p.link, p.image_url, p.alt_text,"
            " b.pinterest_board_id from public.pins as p left join public.pinterest_boards as b"
            " on b.user_id = p.user_id and b.id = p.board_id where p.user_id = %s and p.id = %s",
            [job.user_id, pin_id]).fetchone()
    if pin is None or pin["status"] != "publishing":
        return  # deleted meanwhile, or an attempt that already finished it
    try:
        if not pin["pinterest_board_id"]:
            raise PermanentError("the pin's board no longer exists on Pinterest")
        if not pin["image_url"]:
            raise PermanentError("the pin has no image URL")
        access = _access(job)
        with _token_refusal(job):
            created = client(job.context.settings).create_pin(
                access, board_id=pin["pinterest_board_id"], image_url=pin["image_url"], title=pin["title"],
                description=pin["description"], link=pin["link"], alt_text=pin["alt_text"])
    except Exception as exc:
        if not retryable(exc) or job.attempt >= job.max_attempts:
            with job.context.db.as_service() as conn:
                conn.execute("select public.record_pin_failed(%s, %s, %s)", [job.user_id, pin_id, _failure_text(exc)])
        raise
    with job.context.db.as_service() as conn:
        conn.execute("select public.record_pin_published(%s, %s, %s, %s)",
                     [job.user_id, pin_id, created.id, created.created_at])


def delete_pin(job: Job) -> None:
    """Deletes the pin on Pinterest (already gone there is fine), then its row and metrics."""
    pin_id = job.payload.get("pin_id")
    if not isinstance(pin_id, str):
        raise PermanentError("pinterest.delete_pin: the payload needs a pin_id")
    with job.context.db.as_service() as conn:
        pin = conn.execute("select pinterest_pin_id from public.pins where user_id = %s and id = %s",
                           [job.user_id, pin_id]).fetchone()
    if pin is None:
        return  # deleted already
    if pin["pinterest_pin_id"]:
        access = _access(job)
        with _token_refusal(job):
            client(job.context.settings).delete_pin(access, pin["pinterest_pin_id"])
    with job.context.db.as_service() as conn:
        conn.execute("delete from public.pins where user_id = %s and id = %s", [job.user_id, pin_id])


def delete_synced_boards(conn: psycopg.Connection[Any], user_id: str, integration: Mapping[str, Any]) -> bool:
    """The disconnect hook: the synced boards go with the connection; the credentials are the
    disconnect's to delete (False)."""
    conn.execute("delete from public.pinterest_boards where user_id = %s", [user_id])
    return False


def register(registry: Registry, settings: Settings) -> None:
    registry.handler(SYNC_BOARDS, sync_boards)
    registry.handler(SYNC_DATA, sync_data)
    registry.handler(CREATE_BOARD, create_board)
    registry.handler(CREATE_PIN, create_pin)
    registry.handler(DELETE_PIN, delete_pin)
    registry.periodic(QUEUE_DATA_SYNCS, every_seconds=settings.pinterest_sync_every_seconds, run=queue_data_syncs)
    registry.periodic(PUBLISH_DUE_PINS, every_seconds=settings.pinterest_publish_every_seconds, run=publish_due_pins)
