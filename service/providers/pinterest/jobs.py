"""The Pinterest worker jobs: a full board sync, and the boards' end when the user disconnects."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...config import Settings
from ...errors import PermanentError, ProviderAuthError
from ...integrations import records, tokens
from ...queue.registry import Job, Registry
from .client import NAME
from .oauth import SYNC_BOARDS, client, refresher


def sync_boards(job: Job) -> None:
    """Reads every page, then replaces the user's set and board_count in one transaction (an
    interrupted sync leaves the previous complete set)."""
    db, settings = job.context.db, job.context.settings
    pinterest_refresher = refresher(settings)
    if pinterest_refresher is None:
        raise PermanentError("Pinterest is not configured on this server")
    access = tokens.access_token(db, pinterest_refresher, job.user_id, reader=job.operation_type)
    try:
        boards = [asdict(board) for board in client(settings).boards(access)]
    except ProviderAuthError as refused:
        # A token we believe valid was refused: the user removed the app on Pinterest.
        with db.as_service() as conn:
            current = records.lock(conn, job.user_id, NAME)
            if current is not None and current["status"] == "connected":
                records.mark_error(conn, job.user_id, NAME,
                                   "Pinterest refused the access token; reconnect Pinterest", status="expired")
        raise tokens.ReconnectRequired("Pinterest refused the access token; the user must reconnect") from refused
    with db.as_service() as conn:
        current = records.lock(conn, job.user_id, NAME)
        if current is None or current["status"] != "connected":
            return  # disconnected while we read: its boards are gone, keep them gone
        row = conn.execute("select public.replace_pinterest_boards(%s, %s) as n",
                           [job.user_id, Jsonb(boards)]).fetchone()
        assert row is not None
        records.merge_metadata(conn, job.user_id, NAME, {"board_count": int(row["n"])})


def delete_synced_boards(conn: psycopg.Connection[Any], user_id: str, integration: Mapping[str, Any]) -> bool:
    """The disconnect hook: the synced boards go with the connection; the credentials are the
    disconnect's to delete (False)."""
    conn.execute("delete from public.pinterest_boards where user_id = %s", [user_id])
    return False


def register(registry: Registry, settings: Settings) -> None:
    registry.handler(SYNC_BOARDS, sync_boards)
