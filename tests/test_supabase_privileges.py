"""Migrations and the service run locally with the privileges Supabase gives `postgres`, no more.

On Supabase `postgres` is not a superuser: `supabase_auth_admin` owns `auth.users`, schema `auth`
takes no CREATE from postgres, and `vault.secrets` takes no INSERT or UPDATE. The local cluster
(service/localdb.py, supabase/local/) is built the same way, so a migration that would fail on
Supabase fails here, in `make test`, with Supabase's own error.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator

import psycopg
import pytest

from service.db import Database
from service.migrate import MIGRATIONS_DIR, MigrationError, migrate, recreate_database


@pytest.fixture
def scratch(cluster, request) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A database of its own, migrated, as `postgres`."""
    name = f"priv_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "_").replace("-", "_")
    recreate_database(cluster.url(), name)
    migrate(cluster.url(name))
    yield cluster.url(name)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def history(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")]


def test_migrations_and_the_service_connect_as_postgres_which_is_no_superuser(cluster, db: Database):
    with psycopg.connect(cluster.url()) as conn:
        assert conn.execute("select current_user::text, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
                            " from pg_roles where rolname = current_user").fetchone() == (
            "postgres", False, True, True, True)
    with db.connection() as conn:
        assert conn.execute("select current_user::text as role").fetchone() == {"role": "postgres"}
    with db.as_service() as conn:
        assert conn.execute("select current_user::text as role").fetchone() == {"role": "service_role"}


@pytest.mark.parametrize(("statement", "error"), [
    ("alter table auth.users add column nickname text", "must be owner of table users"),
    ("create index on auth.users (email)", "must be owner of table users"),
    ("create table auth.profiles (id uuid primary key)", "permission denied for schema auth"),
    ("create function auth.is_admin() returns boolean language sql as 'select false'",
     "permission denied for schema auth"),
    ("alter function auth.uid() security definer", "must be owner of function auth.uid"),
    ("insert into vault.secrets (secret) values ('plaintext')", "permission denied for table secrets"),
    ("update vault.secrets set description = 'changed'", "permission denied for table secrets"),
    ("create table vault.more_secrets (id int)", "permission denied for schema vault"),
    ("select vault._local_root_key()", "permission denied for function _local_root_key"),
])
def test_a_migration_that_would_fail_on_supabase_fails_here_with_supabases_error(scratch, tmp_path, statement, error):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "20991231235959_needs_more_than_supabase_grants.sql").write_text(f"{statement};\n")
    before = history(scratch)
    with pytest.raises(MigrationError) as failure:
        migrate(scratch, folder)
    message = str(failure.value)
    assert "20991231235959_needs_more_than_supabase_grants.sql" in message and "42501" in message
    assert error in message, message
    assert history(scratch) == before


def test_what_supabase_lets_postgres_do_to_auth_users_works(scratch, tmp_path):
    # Triggers and foreign keys on auth.users, reading and writing it: what our migrations and
    # the local sign-in need, and what Supabase grants postgres.
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "20991231235959_uses_auth_users.sql").write_text(
        "create table public.nicknames (user_id uuid primary key references auth.users (id) on delete cascade);\n"
        "create function public.nickname_new_user() returns trigger language plpgsql as $$\n"
        "begin insert into public.nicknames (user_id) values (new.id); return new; end $$;\n"
        "create trigger nickname_new_user after insert on auth.users\n"
        "for each row execute function public.nickname_new_user();\n")
    migrate(scratch, folder)
    with psycopg.connect(scratch) as conn:
        user_id = conn.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'n@example.test')"
                               " returning id").fetchone()[0]
        assert conn.execute("select count(*) from public.nicknames where user_id = %s", [user_id]).fetchone() == (1,)
        conn.execute("update auth.users set email = 'm@example.test' where id = %s", [user_id])
        conn.execute("delete from auth.users where id = %s", [user_id])


def test_auth_and_vault_belong_to_supabases_admin_roles_not_to_postgres(cluster):
    with psycopg.connect(cluster.url()) as conn:
        owners = dict(conn.execute(
            "select 'schema auth', nspowner::regrole::text from pg_namespace where nspname = 'auth'"
            " union all select 'schema vault', nspowner::regrole::text from pg_namespace where nspname = 'vault'"
            " union all select 'auth.users', relowner::regrole::text from pg_class where oid = 'auth.users'::regclass"
            " union all select 'auth.uid()', proowner::regrole::text from pg_proc where oid = 'auth.uid()'::regprocedure"
            " union all select 'vault.secrets', relowner::regrole::text from pg_class"
            " where oid = 'vault.secrets'::regclass").fetchall())
        member_of_admins = conn.execute(
            "select pg_has_role('postgres', 'supabase_auth_admin', 'usage'),"
            " pg_has_role('postgres', 'supabase_admin', 'usage')").fetchone()
    assert owners == {"schema auth": "supabase_admin", "schema vault": "supabase_admin",
                      "auth.users": "supabase_auth_admin", "auth.uid()": "supabase_auth_admin",
                      "vault.secrets": "supabase_admin"}
    assert member_of_admins == (False, False)


def test_a_role_granted_the_documented_vault_privileges_creates_and_reads_a_secret(scratch):
    # supabase_vault's own test (test/fixtures.sql, test/sql/test.sql): bob gets exactly these
    # grants, from postgres, which Supabase gives them WITH GRANT OPTION.
    with psycopg.connect(scratch) as conn:  # one transaction, rolled back: bob never outlives it
        conn.execute("create role bob")
        conn.execute("grant bob to postgres")
        conn.execute("grant usage on schema vault to bob with grant option")
        conn.execute("grant select on vault.secrets, vault.decrypted_secrets to bob with grant option")
        conn.execute("grant execute on function vault.create_secret, vault.update_secret,"
                     " vault._crypto_aead_det_decrypt to bob with grant option")
        conn.execute("set role bob")
        conn.execute("select vault.create_secret('foo', 'bar', 'baz')")
        assert conn.execute('select (decrypted_secret collate "default"), name, description'
                            " from vault.decrypted_secrets where name = 'bar'").fetchall() == [("foo", "bar", "baz")]
        conn.execute("select vault.update_secret((select id from vault.secrets where name = 'bar'),"
                     " 'fooz', 'barz', 'bazz')")
        assert conn.execute('select (decrypted_secret collate "default"), name, description'
                            " from vault.decrypted_secrets").fetchall() == [("fooz", "barz", "bazz")]
        conn.execute("select vault.create_secret(new_secret := '', new_name := 'empty_secret')")
        assert conn.execute("select decrypted_secret collate \"default\" from vault.decrypted_secrets"
                            " where name = 'empty_secret'").fetchall() == [("",)]
        conn.rollback()


def test_decrypted_secret_has_collation_c_as_supabase_vaults_does(scratch):
    with psycopg.connect(scratch) as conn:
        conn.execute("set local role service_role")
        conn.execute("select vault.create_secret('value', 'collation-probe')")
        assert conn.execute("select collation for (decrypted_secret) from vault.decrypted_secrets"
                            " where name = 'collation-probe'").fetchone() == ('"C"',)
        # Two rows compared field by field, as pgTAP's results_eq does: the real Vault refuses.
        with pytest.raises(psycopg.errors.IndeterminateCollation, match="could not determine which collation"):
            conn.execute("select x is distinct from y from (select decrypted_secret from vault.decrypted_secrets"
                         " where name = 'collation-probe') as x, (values ('value')) as y")


def test_a_ciphertext_tampered_with_or_moved_to_another_row_does_not_decrypt(cluster, scratch):
    # Only the layer's owner can write vault.secrets, so only it can try.
    admin = cluster.admin_url(scratch.rsplit("/", 1)[1])
    with psycopg.connect(admin) as conn:
        first = conn.execute("select vault.create_secret('first plaintext', 'first')").fetchone()[0]
        second = conn.execute("select vault.create_secret('second plaintext', 'second')").fetchone()[0]
        assert conn.execute("select decrypted_secret from vault.decrypted_secrets where id = %s",
                            [first]).fetchone() == ("first plaintext",)
        stored = conn.execute("select secret from vault.secrets where id = %s", [first]).fetchone()[0]
        assert "first" not in stored
        conn.execute("update vault.secrets set secret = (select secret from vault.secrets where id = %s),"
                     " nonce = (select nonce from vault.secrets where id = %s) where id = %s", [second, second, first])
        with pytest.raises(psycopg.errors.ExternalRoutineInvocationException, match="Wrong key or corrupt data"):
            conn.execute("select decrypted_secret from vault.decrypted_secrets where id = %s", [first])


def test_migrations_refuse_a_superuser_connection_to_the_local_layer(cluster, scratch):
    with pytest.raises(MigrationError, match="superuser"):
        migrate(cluster.admin_url(scratch.rsplit("/", 1)[1]))


def test_migrations_refuse_a_database_without_supabase(cluster):
    # template0 has no layer: a plain Postgres database, such as DATABASE_URL might name by mistake.
    recreate_database(cluster.url(), "priv_plain", template="template0")
    try:
        with pytest.raises(MigrationError, match="no `auth` schema"):
            migrate(cluster.url("priv_plain"))
    finally:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute('drop database if exists "priv_plain" with (force)')


def test_the_bootstrap_is_idempotent_and_keeps_stored_secrets_readable(cluster, scratch: str):
    with psycopg.connect(scratch) as conn:
        conn.execute("set local role service_role")
        secret_id = conn.execute("select vault.create_secret('kept', 'kept-across-bootstraps')").fetchone()[0]
    cluster.bootstrap()
    with psycopg.connect(scratch) as conn:
        conn.execute("set local role service_role")
        assert conn.execute("select decrypted_secret from vault.decrypted_secrets where id = %s",
                            [secret_id]).fetchone() == ("kept",)


def test_the_root_key_is_a_file_no_database_role_but_the_superuser_reads(cluster):
    with psycopg.connect(cluster.url()) as conn:
        readable = conn.execute(
            "select has_function_privilege('postgres', 'vault._local_root_key()', 'execute'),"
            " has_function_privilege('service_role', 'vault._local_root_key()', 'execute'),"
            " has_function_privilege('postgres', 'pg_read_file(text)', 'execute'),"
            " array(select relname::text from pg_class where relnamespace = 'vault'::regnamespace and relkind = 'r')"
        ).fetchone()
    assert readable == (False, False, False, ["secrets"])
