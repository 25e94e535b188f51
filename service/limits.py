"""The caps SQL holds against users' own writes learn their values from the settings here.

A cap a user could get around through PostgREST (e.g. HAVEN_EXPORT_SCHEDULES_PER_USER) is enforced
by SQL, which reads its value from `public.service_limits` (supabase/schemas/29_service_limits.sql).
The worker copies the settings into that table within a minute of starting and every minute after
(the periodic job `limits.sync`), so a changed setting takes effect once a worker with it runs.
Until a worker has written a cap, SQL uses the setting's default (`tests/test_limits.py` holds the
two equal). A cap on a write only the service makes is passed to the SQL function that makes it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from psycopg.types.json import Jsonb

from .config import Settings
from .queue.registry import Registry, WorkerContext

SYNC_EVERY_SECONDS = 60.0
# SQL's name of each cap -> its value in the settings.
SQL_LIMITS: Mapping[str, Callable[[Settings], int]] = MappingProxyType({
    "export_schedules_per_user": lambda settings: settings.export_schedules_per_user,
})


def limit_values(settings: Settings) -> dict[str, int]:
    return {name: value(settings) for name, value in SQL_LIMITS.items()}


def sync_limits(context: WorkerContext) -> None:
    """Writes the settings' caps to public.service_limits (a no-op row-wise when they are equal)."""
    with context.db.as_service() as conn:
        conn.execute("select public.set_service_limits(%s)", [Jsonb(limit_values(context.settings))])


def register(registry: Registry, settings: Settings) -> None:
    registry.periodic("limits.sync", SYNC_EVERY_SECONDS, sync_limits)
