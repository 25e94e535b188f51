"""The caps SQL holds against users' own writes: their values come from the settings."""
from __future__ import annotations

from dataclasses import replace

import psycopg

from service.config import Settings
from service.limits import SQL_LIMITS, limit_values
from tests.support.flow import registry_for, worker_context


def sql_limit(database_url: str, name: str) -> int | None:
    with psycopg.connect(database_url) as conn:
        conn.execute("set local role service_role")
        row = conn.execute("select public.service_limit(%s)", [name]).fetchone()
    assert row is not None
    return row[0]


def test_sql_defaults_are_the_settings_defaults(database_url):  # type: ignore[no-untyped-def]
    defaults = limit_values(Settings())
    assert defaults and {name: sql_limit(database_url, name) for name in SQL_LIMITS} == defaults


def test_the_worker_writes_its_settings_to_sql(settings, db, database_url):  # type: ignore[no-untyped-def]
    changed = replace(settings, export_schedules_per_user=3)
    registry = registry_for(changed)
    registry.periodic_jobs["limits.sync"].run(worker_context(changed, db))
    assert sql_limit(database_url, "export_schedules_per_user") == 3
    registry.periodic_jobs["limits.sync"].run(worker_context(settings, db))
    assert sql_limit(database_url, "export_schedules_per_user") == settings.export_schedules_per_user


def test_a_schedule_past_the_cap_is_a_409_naming_it(client, user, settings, db, database_url):  # type: ignore[no-untyped-def]
    capped = replace(settings, export_schedules_per_user=2)
    registry_for(capped).periodic_jobs["limits.sync"].run(worker_context(capped, db))
    body = {"export_type": "orders", "frequency": "weekly", "delivery_method": "download"}
    for _ in range(2):
        assert client.post("/api/export/schedules", json=body, headers=user.headers).status_code == 201
    refused = client.post("/api/export/schedules", json=body, headers=user.headers)
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "limit_reached"
    assert "export_schedules_per_user: at most 2 export schedules" in refused.get_json()["message"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.scheduled_exports").fetchone() == (2,)
