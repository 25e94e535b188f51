"""supabase/schemas/ and supabase/migrations/ build the same database.

The schema files state the current definition of every object once; the migrations are how a
database gets there. One database is built from `supabase/local/` + the schema files, another from
`supabase/local/` + the migrations (through the real runner), and their `pg_dump --schema-only`
outputs must be equal: tables, columns, constraints, indexes, functions (bodies, SECURITY
DEFINER, search_path), triggers, RLS and policies, views, grants down to columns and sequences,
comments and owners. (After procrastinate's test_migration.py, which does the same for its
schema.sql and its migrations.)

A change made in one place only fails here, with the difference shown as a diff.
"""
from __future__ import annotations

import difflib
import subprocess
from collections.abc import Iterator

import psycopg
import pytest

from service.localdb import find_bindir
from service.migrate import apply_schemas, migrate, recreate_database

FROM_MIGRATIONS = "schema_from_migrations"
FROM_SCHEMAS = "schema_from_schemas"


def schema_dump(url: str) -> list[str]:
    """The database's `pg_dump --schema-only`, one block per dumped object, sorted.

    Each block is pg_dump's own header line (`-- Name: ...; Type: ...; Schema: ...; Owner: ...`)
    and its statements. Dropped: pg_dump's preamble, blank lines, its random `\\restrict` key,
    and the migration history (which only one side has). Sorted, because pg_dump breaks ties
    between objects by OID, and the two databases create their objects in different orders.
    """
    result = subprocess.run(
        [str(find_bindir() / "pg_dump"), "--schema-only", "--exclude-schema=supabase_migrations",
         "--dbname", url],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    blocks: list[list[str]] = []
    for line in result.stdout.splitlines():
        if line.startswith("-- Name: "):
            blocks.append([line])
        elif blocks and line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict")):
            blocks[-1].append(line)
    return ["\n".join(block) for block in sorted(blocks)]


def dump_difference(expected: list[str], actual: list[str], expected_name: str, actual_name: str) -> str:
    """A unified diff of two dumps ('' when equal), one object block after another."""
    lines = difflib.unified_diff(
        "\n\n".join(expected).splitlines(), "\n\n".join(actual).splitlines(),
        fromfile=expected_name, tofile=actual_name, lineterm="", n=4,
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def built(cluster) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Both databases, built once for this module: {source name: URL}."""
    recreate_database(cluster.url(), FROM_MIGRATIONS)
    migrate(cluster.url(FROM_MIGRATIONS))
    recreate_database(cluster.url(), FROM_SCHEMAS)
    apply_schemas(cluster.url(FROM_SCHEMAS))
    return {"supabase/migrations": cluster.url(FROM_MIGRATIONS), "supabase/schemas": cluster.url(FROM_SCHEMAS)}


@pytest.fixture(scope="module")
def migrations_dump(built) -> list[str]:  # type: ignore[no-untyped-def]
    return schema_dump(built["supabase/migrations"])


@pytest.fixture
def schemas_copy(cluster, built) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A throwaway clone of the database built from the schema files, to change on one side only."""
    recreate_database(cluster.url(), "schema_from_schemas_changed", template=FROM_SCHEMAS)
    yield cluster.url("schema_from_schemas_changed")
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute('drop database if exists "schema_from_schemas_changed" with (force)')


def test_schemas_and_migrations_build_the_same_database(built, migrations_dump):
    schemas_dump = schema_dump(built["supabase/schemas"])
    assert len(migrations_dump) > 100, "the dump is suspiciously small: did the migrations apply?"
    difference = dump_difference(migrations_dump, schemas_dump, "supabase/migrations", "supabase/schemas")
    assert not difference, (
        "supabase/schemas/ and supabase/migrations/ build different databases. Every change edits "
        "its schema file AND adds a migration:\n" + difference
    )


def test_the_comparison_sees_a_column_added_on_one_side(schemas_copy, migrations_dump):
    with psycopg.connect(schemas_copy, autocommit=True) as conn:
        conn.execute("alter table public.leads add column nickname text not null default ''")
    difference = dump_difference(migrations_dump, schema_dump(schemas_copy), "migrations", "schemas")
    assert "+    nickname text DEFAULT ''::text NOT NULL" in difference, difference


def test_the_comparison_sees_a_grant_changed_on_one_side(schemas_copy, migrations_dump):
    with psycopg.connect(schemas_copy, autocommit=True) as conn:
        conn.execute("grant insert on table public.leads to authenticated")
    difference = dump_difference(migrations_dump, schema_dump(schemas_copy), "migrations", "schemas")
    assert "-GRANT SELECT ON TABLE public.leads TO authenticated;" in difference, difference
    assert "+GRANT SELECT,INSERT ON TABLE public.leads TO authenticated;" in difference, difference


def test_the_comparison_sees_a_function_body_changed_on_one_side(schemas_copy, migrations_dump):
    with psycopg.connect(schemas_copy, autocommit=True) as conn:
        conn.execute("""
            create or replace function public.export_types() returns text[] language sql immutable
            parallel safe set search_path = '' as $$ select array['leads']::text[] $$""")
    difference = dump_difference(migrations_dump, schema_dump(schemas_copy), "migrations", "schemas")
    assert "+    AS $$ select array['leads']::text[] $$;" in difference, difference
