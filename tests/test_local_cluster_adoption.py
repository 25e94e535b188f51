"""A local cluster made before Supabase's roles (initdb'd as a superuser `postgres`, whose layer kept
the Vault root key in a table) is adopted by its next bootstrap: postgres is demoted, auth and
vault go to their admin roles, and every stored secret still decrypts."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from service import localdb
from service.localdb import LocalCluster
from service.migrate import LOCAL_LAYER_DIR

# The layer as it was before: everything owned by the superuser postgres, the root key in a table,
# each secret PGP-encrypted under hmac(id || nonce, root key).
OLD_LAYER = """
create role anon nologin;
create role authenticated nologin;
create role service_role nologin bypassrls;
create schema extensions;
create extension pgcrypto with schema extensions;
create schema auth;
comment on schema auth is 'Haven Hub local Supabase compatibility layer';
{users_table}
create schema vault;
create table vault.local_root_key (id boolean primary key default true, key bytea not null);
insert into vault.local_root_key (key) values (extensions.gen_random_bytes(32));
create table vault.secrets (
  id uuid primary key default gen_random_uuid(), name text, description text not null default '',
  secret text not null, key_id uuid, nonce bytea default extensions.gen_random_bytes(24),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);
create function vault._secret_passphrase(root_key bytea, secret_id uuid, nonce bytea) returns text
language sql immutable as $$
  select encode(extensions.hmac(convert_to(secret_id::text, 'utf8') || coalesce(nonce, ''::bytea), root_key,
                                'sha256'), 'hex')
$$;
create view vault.decrypted_secrets as
select s.id, s.name, s.description, s.secret,
  extensions.pgp_sym_decrypt(decode(s.secret, 'base64'),
    vault._secret_passphrase((select k.key from vault.local_root_key as k), s.id, s.nonce)) as decrypted_secret,
  s.key_id, s.nonce, s.created_at, s.updated_at
from vault.secrets as s;
insert into vault.secrets (id, name, secret, nonce)
select i, 'old/secret',
  encode(extensions.pgp_sym_encrypt('kept across the adoption',
    vault._secret_passphrase((select key from vault.local_root_key), i, n)), 'base64'), n
from (select gen_random_uuid() as i, extensions.gen_random_bytes(24) as n) as fresh;
"""


def users_table() -> str:
    """auth.users as the layer creates it (the old layer's columns were the same)."""
    text = (LOCAL_LAYER_DIR / "01_auth.sql").read_text()
    match = re.search(r"create table if not exists auth\.users \(.*?\n\);\n", text, re.S)
    assert match, "01_auth.sql no longer creates auth.users in one statement"
    return match.group(0)


@pytest.fixture
def old_cluster(monkeypatch) -> Iterator[LocalCluster]:  # type: ignore[no-untyped-def]
    parent = Path(tempfile.mkdtemp(prefix="haven-adopt-"))
    parent.chmod(0o711)
    cluster = LocalCluster(parent / "pg", throwaway=True)
    try:
        # initdb as the old code ran it: the superuser is postgres, with the one password file.
        monkeypatch.setattr(localdb, "SUPERUSER", "postgres")
        cluster.init()
        monkeypatch.undo()
        cluster.admin_password_file.replace(cluster.password_file)
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(OLD_LAYER.format(users_table=users_table()).encode())
        yield cluster
    finally:
        cluster.destroy()
        parent.rmdir()


def test_an_old_cluster_is_adopted_with_its_data_and_secrets(old_cluster: LocalCluster):
    with psycopg.connect(old_cluster.url()) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = 'postgres'").fetchone() == (True,)

    old_cluster.bootstrap()

    assert old_cluster.admin_password_file.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(old_cluster.url()) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (False,)
        assert conn.execute(
            "select (select relowner::regrole::text from pg_class where oid = 'auth.users'::regclass),"
            " (select relowner::regrole::text from pg_class where oid = 'vault.secrets'::regclass),"
            " to_regclass('vault.local_root_key'), to_regprocedure('vault._secret_passphrase(bytea, uuid, bytea)')"
        ).fetchone() == ("supabase_auth_admin", "supabase_admin", None, None)
        conn.execute("set local role service_role")
        assert conn.execute("select decrypted_secret from vault.decrypted_secrets where name = 'old/secret'"
                            ).fetchone() == ("kept across the adoption",)
    with psycopg.connect(old_cluster.admin_url()) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (True,)
