-- supabase_vault 0.3's interface for plain Postgres: vault.secrets, vault.create_secret(),
-- vault.update_secret() and vault.decrypted_secrets, with the grants Supabase gives
-- (supabase/vault sql/supabase_vault--0.3.0.sql and supabase/postgres
-- ansible/files/postgresql_extension_custom_scripts/supabase_vault/after-create.sql).
--
-- Supabase encrypts with libsodium under a root key held outside the database. Here pgcrypto
-- does the work: each secret is PGP-encrypted (AES-256, with an integrity check) under a key
-- derived from a random root key and the row's id and nonce, so a ciphertext copied into
-- another row does not decrypt. The root key lives in vault.local_root_key, which only the
-- owner of this layer can read: a dump of schema public never carries it, and service_role, which may
-- read every decrypted secret, still never sees the key.
--
-- Applied on every migrate run, so every statement must be safe to repeat.

create extension if not exists pgcrypto with schema extensions;

create schema if not exists vault;

create table if not exists vault.local_root_key (
  -- A single row: the primary key can only be true.
  id boolean primary key default true check (id),
  key bytea not null check (octet_length(key) = 32)
);

comment on table vault.local_root_key is
'Local compatibility layer only: the root key every Vault secret key is derived from. Readable by its owner alone.';

-- Generated once; later runs keep it, or every stored secret would become unreadable.
insert into vault.local_root_key (key)
select extensions.gen_random_bytes(32)
where not exists (select from vault.local_root_key);

revoke all on table vault.local_root_key from public, anon, authenticated, service_role;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default extensions.gen_random_bytes(24),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);

comment on table vault.secrets is
'Table with encrypted `secret` column for storing sensitive information on disk.';

create unique index if not exists secrets_name_idx on vault.secrets (name)
where name is not null;

create or replace function vault._secret_passphrase(root_key bytea, secret_id uuid, nonce bytea)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.encode(
    extensions.hmac(
      pg_catalog.convert_to(secret_id::text, 'utf8') || coalesce(nonce, ''::bytea),
      root_key,
      'sha256'
    ),
    'hex'
  )
$$;

comment on function vault._secret_passphrase(bytea, uuid, bytea) is
'One secret''s encryption passphrase, derived from the root key and the secret''s id and nonce.';

-- decrypted_secrets calls it with the caller's rights, so service_role must be able to execute
-- it; the root key it needs is only reachable through the view, which reads it as its owner.
revoke all on function vault._secret_passphrase(bytea, uuid, bytea) from public, anon, authenticated;
grant execute on function vault._secret_passphrase(bytea, uuid, bytea) to service_role;

create or replace function vault._encrypt_secret(secret_id uuid, nonce bytea, plaintext text)
returns text
language sql
volatile
set search_path = ''
as $$
  -- The passphrase is already a 256-bit HMAC, so S2K mode 1 (salted, not iterated) loses nothing
  -- and keeps decrypting a page of secrets cheap.
  select pg_catalog.encode(
    extensions.pgp_sym_encrypt(
      plaintext,
      vault._secret_passphrase(k.key, secret_id, nonce),
      'cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256'
    ),
    'base64'
  )
  from vault.local_root_key as k
$$;

comment on function vault._encrypt_secret(uuid, bytea, text) is
'Encrypts a secret for the row with this id and nonce; returns base64 ciphertext. Owner only.';

revoke all on function vault._encrypt_secret(uuid, bytea, text)
from public, anon, authenticated, service_role;

-- Same columns in the same order as supabase_vault's view. The root key is read through a
-- scalar subquery, which keeps the view automatically updatable (service_role may DELETE
-- through it, as on Supabase) and is checked against the view owner's rights, not the caller's.
create or replace view vault.decrypted_secrets as
select  -- noqa: ST06
  s.id,
  s.name,
  s.description,
  s.secret,
  extensions.pgp_sym_decrypt(
    pg_catalog.decode(s.secret, 'base64'),
    vault._secret_passphrase(
      (select k.key from vault.local_root_key as k), s.id, s.nonce
    )
  ) as decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
from vault.secrets as s;

comment on view vault.decrypted_secrets is
'vault.secrets with each secret decrypted. Decrypting a tampered or moved ciphertext raises an error.';

create or replace function vault.create_secret(
  new_secret text,
  new_name text = null,
  new_description text = '',
  -- unused, as in supabase_vault 0.3
  new_key_id uuid = null
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Chosen before the insert so the row is written encrypted: the plaintext never reaches a
  -- tuple, not even a dead one.
  new_id uuid := pg_catalog.gen_random_uuid();
  new_nonce bytea := extensions.gen_random_bytes(24);
begin
  insert into vault.secrets (id, name, description, secret, nonce)
  values (
    new_id,
    new_name,
    new_description,
    vault._encrypt_secret(new_id, new_nonce, new_secret),
    new_nonce
  );
  return new_id;
end
$$;

comment on function vault.create_secret(text, text, text, uuid) is
'Stores a new encrypted secret and returns its id. new_key_id is ignored, as in supabase_vault 0.3.';

create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text = null,
  new_name text = null,
  new_description text = null,
  -- unused, as in supabase_vault 0.3
  new_key_id uuid = null
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update vault.secrets as s
  set
    secret = case
      when new_secret is null then s.secret
      else vault._encrypt_secret(s.id, s.nonce, new_secret)
    end,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    updated_at = pg_catalog.now()
  where s.id = secret_id;
end
$$;

comment on function vault.update_secret(uuid, text, text, text, uuid) is
'Replaces a secret''s value, name or description; null keeps the current one. An unknown id changes nothing.';

-- Supabase's grants: service_role may use the schema, read and delete secrets, and call the two
-- functions; anon and authenticated get nothing. (supabase/postgres#1539, for new and restored
-- projects, and #1606 for upgraded ones: `grant select, delete on vault.secrets,
-- vault.decrypted_secrets to service_role` and execute on create_secret/update_secret.)
revoke all on schema vault from public, anon, authenticated;
revoke all on table vault.secrets, vault.decrypted_secrets
from public, anon, authenticated, service_role;
revoke all on function
vault.create_secret(text, text, text, uuid),
vault.update_secret(uuid, text, text, text, uuid)
from public, anon, authenticated, service_role;

grant usage on schema vault to service_role;
grant select, delete on table vault.secrets, vault.decrypted_secrets to service_role;
grant execute on function
vault.create_secret(text, text, text, uuid),
vault.update_secret(uuid, text, text, text, uuid)
to service_role;
