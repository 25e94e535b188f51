"""The migration runner: order, history as the Supabase CLI keeps it, idempotence, atomic failure."""
from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from service.migrate import (LOCAL_LAYER_DIR, MIGRATIONS_DIR, SCHEMAS_DIR, MigrationError, discover, migrate,
                             recreate_database, split_statements)


@pytest.fixture
def scratch_url(cluster, request) -> str:  # type: ignore[no-untyped-def]
    name = f"mig_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "_").replace("-", "_")
    recreate_database(cluster.url(), name)
    return cluster.url(name)


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def history(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(
            "select version, name from supabase_migrations.schema_migrations order by version")]


def public_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(
            "select tablename from pg_tables where schemaname = 'public'")}


def test_every_migration_applies_in_order_and_is_recorded(scratch_url, migrations):
    applied = migrate(scratch_url, migrations)
    expected = [(m.version, m.name) for m in discover(migrations)]
    assert [(m.version, m.name) for m in applied] == expected
    assert history(scratch_url) == expected


def test_second_run_applies_nothing(scratch_url, migrations):
    migrate(scratch_url, migrations)
    before = history(scratch_url)
    assert migrate(scratch_url, migrations) == []
    assert history(scratch_url) == before


def test_statements_are_recorded_one_per_entry(scratch_url, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "20990101000000_two_things.sql").write_text(
        "-- why: a comment\ncreate table public.a (id int);\n"
        "create function public.f() returns int language plpgsql as $$ begin return 1; end; $$;\n")
    migrate(scratch_url, folder)
    with psycopg.connect(scratch_url) as conn:
        statements = conn.execute(
            "select statements from supabase_migrations.schema_migrations where version = '20990101000000'"
        ).fetchone()[0]
    assert len(statements) == 2 and statements[1].startswith("create function")


def test_a_failing_file_changes_neither_schema_nor_history_and_is_named(scratch_url, migrations):
    migrate(scratch_url, migrations)
    tables_before, history_before = public_tables(scratch_url), history(scratch_url)
    broken = migrations / "20991231235959_broken.sql"
    broken.write_text("create table public.half_done (id int);\nselect from where;\n")
    with pytest.raises(MigrationError) as failure:
        migrate(scratch_url, migrations)
    assert "20991231235959_broken.sql" in str(failure.value)
    assert "line 2" in str(failure.value) and "syntax error" in str(failure.value)
    assert public_tables(scratch_url) == tables_before
    assert history(scratch_url) == history_before


def test_a_misnamed_file_is_refused(tmp_path):
    (tmp_path / "001_init.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="14-digit"):
        discover(tmp_path)


def test_split_statements_keeps_dollar_quoted_bodies_whole():
    text = "create function f() returns int as $$ begin; return 1; end $$ language plpgsql;\nselect 1;"
    assert len(split_statements(text)) == 2


def test_migrations_and_schemas_hold_no_auth_or_vault_ddl():
    import re

    forbidden = re.compile(
        r"\b(create|alter|drop)\s+(or\s+replace\s+)?(table|view|function|schema|type|sequence|policy\s+\S+\s+on)"
        r"\s+(if\s+(not\s+)?exists\s+)?\"?(auth|vault)\"?\.", re.I)
    for path in [*MIGRATIONS_DIR.glob("*.sql"), *SCHEMAS_DIR.glob("*.sql")]:
        text = split_statements(path.read_text())
        assert not any(forbidden.search(statement) for statement in text), path.name
    assert LOCAL_LAYER_DIR.is_dir()


def test_a_history_with_migrations_no_longer_on_disk_is_refused_and_nothing_changes(scratch_url, tmp_path):
    # A local database made before a squash: its history names files the folder no longer has.
    before_squash = tmp_path / "before"
    before_squash.mkdir()
    (before_squash / "20990101000000_old_table.sql").write_text("create table public.old_table (id int);\n")
    migrate(scratch_url, before_squash)
    after_squash = tmp_path / "after"
    after_squash.mkdir()
    (after_squash / "20990201000000_baseline.sql").write_text("create table public.new_table (id int);\n")
    tables_before, history_before = public_tables(scratch_url), history(scratch_url)

    with pytest.raises(MigrationError) as failure:
        migrate(scratch_url, after_squash)

    message = str(failure.value)
    assert "\n" not in message
    assert "20990101000000" in message and "haven db reset" in message
    assert public_tables(scratch_url) == tables_before
    assert history(scratch_url) == history_before


def test_haven_db_migrate_says_what_to_do_about_an_unknown_history_in_one_line(scratch_url):
    from click.testing import CliRunner

    from service.cli import main

    migrate(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        conn.execute("insert into supabase_migrations.schema_migrations (version, name, statements)"
                     " values ('20261125000100', 'extensions', '{}')")
    result = CliRunner().invoke(main, ["db", "migrate"], env={"DATABASE_URL": scratch_url})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "20261125000100" in lines[0] and "haven db reset" in lines[0]
