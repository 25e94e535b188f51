"""Applies pending `supabase/migrations/`, as the connection's role (`postgres`, as on Supabase).

The Supabase compatibility layer in `supabase/local/` is not a migration: like the platform's
own set-up on Supabase, the local cluster's superuser installs it (`LocalCluster.bootstrap`, with
`apply_local_layer` below), and migrations then run without that superuser, so a migration
that would fail on Supabase (altering `auth.users`, creating in schema `auth`, writing
`vault.secrets`) fails here too.

History is kept where the Supabase CLI keeps it, `supabase_migrations.schema_migrations`, so a
database migrated here and one migrated by `supabase db push` agree on what has been applied.

`supabase/schemas/` states the current definition of every object, once; the migrations are how
a database gets there. `apply_schemas()` builds a database from the schema files alone, so a test
can prove both roads lead to the same catalogue.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlparse
from psycopg import sql

from .config import PROJECT_ROOT
from .errors import HavenError

MIGRATIONS_DIR = PROJECT_ROOT / "supabase" / "migrations"
SCHEMAS_DIR = PROJECT_ROOT / "supabase" / "schemas"
LOCAL_LAYER_DIR = PROJECT_ROOT / "supabase" / "local"
SEED_FILE = PROJECT_ROOT / "supabase" / "seed.sql"
LOCAL_LAYER_MARKER = "Haven Hub local Supabase compatibility layer"
MIGRATION_NAME = re.compile(r"(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql")
# Serialises concurrent migrators on one database; the number is arbitrary but fixed.
MIGRATION_LOCK_KEY = 7_316_110_555


class MigrationError(HavenError):
    """A migration file is malformed or failed; nothing of that file was applied."""


class UnknownHistory(MigrationError):
    """The database records migrations that are not on disk: nothing was tried, so nothing rolled back."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def statements(self) -> list[str]:
        return split_statements(self.path.read_text(encoding="utf-8"))


def split_statements(text: str) -> list[str]:
    """Statements as the Supabase CLI records them: one entry each, comments and blanks dropped."""
    return [stripped for raw in sqlparse.split(text)
            if (stripped := sqlparse.format(raw, strip_comments=True).strip())]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.fullmatch(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: a migration is named <14-digit UTC timestamp>_<snake_case>.sql"
            )
        migrations.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in migrations]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationError(f"two migrations share version {', '.join(duplicates)}")
    return migrations


def _error_message(path: Path, text: str, exc: psycopg.Error) -> str:
    diag = exc.diag
    where = ""
    if diag.statement_position:
        line = text.count("\n", 0, int(diag.statement_position) - 1) + 1
        where = f" (line {line})"
    detail = f"{diag.sqlstate or ''} {diag.message_primary or str(exc)}".strip()
    if diag.context:
        detail += f"\n  context: {diag.context.strip()}"
    return f"{path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}{where}: {detail}"


def _apply_file(conn: psycopg.Connection, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        # No parameters: psycopg sends the whole file with the simple protocol, many statements.
        conn.execute(text.encode())  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise MigrationError(_error_message(path, text, exc)) from exc


def check_target(conn: psycopg.Connection) -> None:
    """Refuses a database migrations cannot run on as they would on Supabase: one without an
    `auth` schema (plain Postgres the local layer was never installed in), or our local layer
    reached as a superuser (which would hide every privilege Supabase withholds from postgres)."""
    row = conn.execute(
        "select to_regnamespace('auth') is null,"
        " coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), ''),"
        " (select rolsuper from pg_roles where rolname = current_user), current_user"
    ).fetchone()
    assert row is not None
    no_auth, marker, superuser, role = row
    if no_auth:
        raise MigrationError(
            "nothing applied: the database has no `auth` schema, so it is neither a Supabase project nor "
            "a local cluster made by `haven db up` (whose superuser installs supabase/local/ before any "
            "migration runs)"
        )
    if marker == LOCAL_LAYER_MARKER and superuser:
        raise MigrationError(
            f"nothing applied: connected as {role}, a superuser; migrations run as `postgres`, which on "
            "Supabase is not one (the local cluster's URL from `haven db up` connects as it)"
        )


def apply_local_layer(conn: psycopg.Connection, directory: Path = LOCAL_LAYER_DIR) -> list[Path]:
    """Applies every local-layer file (idempotent by construction) in its own transaction.

    For the local cluster's bootstrap only, through a superuser connection."""
    applied = []
    for path in sorted(directory.glob("*.sql")):
        with conn.transaction():
            _apply_file(conn, path)
        applied.append(path)
    return applied


def ensure_history_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("create schema if not exists supabase_migrations")
        conn.execute(
            "create table if not exists supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text)"
        )


def applied_versions(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}


def recorded_versions(conn: psycopg.Connection) -> set[str]:
    """The versions in the history table, or none when the database has no history yet."""
    row = conn.execute("select to_regclass('supabase_migrations.schema_migrations') is not null").fetchone()
    return applied_versions(conn) if row and row[0] else set()


def _unknown_history_message(unknown: set[str], directory: Path) -> str:
    shown = sorted(unknown)
    versions = ", ".join(shown) if len(shown) <= 3 else f"{shown[0]} … {shown[-1]}"
    where = directory.relative_to(PROJECT_ROOT) if directory.is_relative_to(PROJECT_ROOT) else directory
    return (
        f"nothing applied: the database's history records {len(shown)} migration(s) that {where}/ no longer "
        f"has ({versions}), so it was migrated before they were squashed or removed; for a local database "
        "run `haven db reset` (it rebuilds it from the migrations and seeds it)"
    )


def migrate(
    url: str,
    directory: Path = MIGRATIONS_DIR,
    report: Callable[[str], None] = lambda line: None,
) -> list[Migration]:
    """Applies what is pending, each file in its own transaction; returns what it applied.

    On failure the failing file is rolled back whole and MigrationError names it; files applied
    before it stay applied, as with `supabase db push`.
    """
    pending_check = discover(directory)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            # Checked before anything is touched: a history this folder cannot account for (a
            # database made before the migrations were squashed) must not get a layer on top.
            unknown = recorded_versions(conn) - {m.version for m in pending_check}
            if unknown:
                raise UnknownHistory(_unknown_history_message(unknown, directory))
            check_target(conn)
            ensure_history_table(conn)
            done = applied_versions(conn)
            applied = []
            for migration in pending_check:
                if migration.version in done:
                    continue
                with conn.transaction():
                    _apply_file(conn, migration.path)
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, name, statements)"
                        " values (%s, %s, %s)",
                        [migration.version, migration.name, migration.statements],
                    )
                report(f"applied {migration.path.name}")
                applied.append(migration)
            return applied
        finally:
            conn.execute("select pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def schema_files(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """The declarative schema files in apply order: by name, as the Supabase CLI sorts them."""
    return sorted(directory.glob("*.sql"), key=lambda path: path.name)


def apply_schemas(url: str, directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Builds a database from the schema files, in name order, all in one transaction, as the
    migrations would be applied; records no migration history. Returns the schema files applied."""
    files = schema_files(directory)
    with psycopg.connect(url, autocommit=True) as conn:
        check_target(conn)
        with conn.transaction():
            for path in files:
                _apply_file(conn, path)
    return files


def load_seed(url: str, path: Path = SEED_FILE) -> bool:
    if not path.exists():
        return False
    with psycopg.connect(url) as conn, conn.transaction():
        _apply_file(conn, path)
    return True


def recreate_database(admin_url: str, dbname: str, template: str | None = None) -> None:
    """Drops and creates `dbname` (optionally from a template) through an admin connection."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))
        if template:
            conn.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(dbname), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
