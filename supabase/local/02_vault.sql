-- supabase_vault 0.3's interface for plain Postgres: vault.secrets, vault.create_secret(),
-- vault.update_secret(), vault.decrypted_secrets and vault._crypto_aead_det_decrypt(), owned by
-- supabase_admin and granted as Supabase grants them (supabase/vault sql/supabase_vault--0.3.0.sql;
-- supabase/postgres ansible/files/postgresql_extension_custom_scripts/supabase_vault/after-create.sql).
--
-- Supabase encrypts with libsodium under a root key the server loads from outside the database;
-- no role, not even postgres, can read it. Here pgcrypto does the work: each secret is
-- PGP-encrypted (AES-256, with an integrity check) under a key derived from a random root key and
-- the row's id and nonce (the same "additional data" and nonce supabase_vault passes), so a
-- ciphertext copied into another row does not decrypt. The root key is a file in the cluster's
-- data directory, read only by SECURITY DEFINER functions of the bootstrap superuser: no table
-- holds it, so neither pg_read_all_data (which postgres holds) nor a dump ever carries it.
--
-- Applied by the bootstrap superuser on every bootstrap, so every statement must be safe to repeat.

create extension if not exists pgcrypto with schema extensions;
grant all on all routines in schema extensions to postgres with grant option;

create schema if not exists vault;
alter schema vault owner to supabase_admin;

-- The root key file, written once per cluster (the server's own user owns it, mode 0600).
do $$
begin
  if pg_catalog.pg_stat_file('haven_vault_root.key', true) is null then
    execute pg_catalog.format(
      'copy (select %L) to %L',
      pg_catalog.encode(extensions.gen_random_bytes(32), 'hex'),
      pg_catalog.current_setting('data_directory') || '/haven_vault_root.key'
    );
  end if;
end
$$;

create or replace function vault._local_root_key()
returns bytea
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.decode(pg_catalog.btrim(pg_catalog.pg_read_file('haven_vault_root.key'), e' \n'), 'hex')
$$;

comment on function vault._local_root_key() is
'Local compatibility layer only: the root key every Vault secret key is derived from. Its owner alone may call it.';

create or replace function vault._local_passphrase(additional bytea, nonce bytea)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.encode(
    extensions.hmac(additional || coalesce(nonce, ''::bytea), vault._local_root_key(), 'sha256'),
    'hex'
  )
$$;

comment on function vault._local_passphrase(bytea, bytea) is
'Local compatibility layer only: one secret''s passphrase, from the root key, its additional data and nonce.';

-- supabase_vault's three C functions, same signatures. key_id and context are accepted and, as
-- the Vault always passes 0 and 'pgsodium', ignored.
create or replace function vault._crypto_aead_det_noncegen()
returns bytea
language sql
volatile
set search_path = ''
as $$
  select extensions.gen_random_bytes(24)
$$;

comment on function vault._crypto_aead_det_noncegen() is 'A fresh random nonce for a secret.';

create or replace function vault._crypto_aead_det_encrypt(
  message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = null
)
returns bytea
language sql
volatile
security definer
set search_path = ''
as $$
  -- The passphrase is already a 256-bit HMAC, so S2K mode 1 (salted, not iterated) loses nothing
  -- and keeps decrypting a page of secrets cheap.
  select extensions.pgp_sym_encrypt_bytea(
    message,
    vault._local_passphrase(additional, nonce),
    'cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256'
  )
$$;

comment on function vault._crypto_aead_det_encrypt(bytea, bytea, bigint, bytea, bytea) is
'Encrypts a secret under the root key for this additional data (the row id) and nonce.';

create or replace function vault._crypto_aead_det_decrypt(
  message bytea, additional bytea, key_id bigint, context bytea = 'pgsodium', nonce bytea = null
)
returns bytea
language sql
stable
security definer
set search_path = ''
as $$
  select extensions.pgp_sym_decrypt_bytea(message, vault._local_passphrase(additional, nonce))
$$;

comment on function vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea) is
'Decrypts a secret; a tampered ciphertext, or one moved to another row, raises an error.';

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default vault._crypto_aead_det_noncegen(),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);

alter table vault.secrets owner to supabase_admin;
alter table vault.secrets alter column nonce set default vault._crypto_aead_det_noncegen();

comment on table vault.secrets is
'Table with encrypted `secret` column for storing sensitive information on disk.';

create unique index if not exists secrets_name_idx on vault.secrets (name)
where name is not null;

-- A database made by an older layer kept its root key in a table, readable by its owner: its
-- secrets are encrypted again under the cluster's key file, and the table goes.
do $$
begin
  if pg_catalog.to_regclass('vault.local_root_key') is not null then
    execute $upgrade$
      update vault.secrets as s
      set secret = pg_catalog.encode(
        vault._crypto_aead_det_encrypt(
          extensions.pgp_sym_decrypt_bytea(
            pg_catalog.decode(s.secret, 'base64'),
            pg_catalog.encode(
              extensions.hmac(
                pg_catalog.convert_to(s.id::text, 'utf8') || coalesce(s.nonce, ''::bytea),
                (select k.key from vault.local_root_key as k),
                'sha256'
              ),
              'hex'
            )
          ),
          pg_catalog.convert_to(s.id::text, 'utf8'), 0, 'pgsodium', s.nonce
        ),
        'base64'
      )
    $upgrade$;
    drop table vault.local_root_key cascade;
    drop function if exists vault._secret_passphrase(bytea, uuid, bytea);
    drop function if exists vault._encrypt_secret(uuid, bytea, text);
  end if;
  -- An older view's decrypted_secret had the database's collation; supabase_vault's has "C"
  -- (convert_from's encoding argument is a name), and CREATE OR REPLACE cannot change it.
  if exists (
    select from pg_catalog.pg_attribute as a
    where a.attrelid = pg_catalog.to_regclass('vault.decrypted_secrets')
      and a.attname = 'decrypted_secret'
      and a.attcollation <> 'pg_catalog."C"'::regcollation
  ) then
    drop view vault.decrypted_secrets;
  end if;
end
$$;

-- supabase_vault's view, word for word: the caller needs SELECT on it and EXECUTE on
-- _crypto_aead_det_decrypt, which is what Supabase grants.
create or replace view vault.decrypted_secrets as
select  -- noqa: ST06
  s.id,
  s.name,
  s.description,
  s.secret,
  convert_from(
    vault._crypto_aead_det_decrypt(
      message := decode(s.secret, 'base64'::text),
      additional := convert_to(s.id::text, 'utf8'),
      key_id := 0,
      context := 'pgsodium'::bytea,
      nonce := s.nonce
    ),
    'utf8'::name
  ) as decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
from vault.secrets as s;

alter view vault.decrypted_secrets owner to supabase_admin;

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
  new_nonce bytea := vault._crypto_aead_det_noncegen();
begin
  insert into vault.secrets (id, name, description, secret, nonce)
  values (
    new_id,
    new_name,
    new_description,
    pg_catalog.encode(
      vault._crypto_aead_det_encrypt(
        pg_catalog.convert_to(new_secret, 'utf8'), pg_catalog.convert_to(new_id::text, 'utf8'),
        0, 'pgsodium', new_nonce
      ),
      'base64'
    ),
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
      else pg_catalog.encode(
        vault._crypto_aead_det_encrypt(
          pg_catalog.convert_to(new_secret, 'utf8'), pg_catalog.convert_to(s.id::text, 'utf8'),
          0, 'pgsodium', s.nonce
        ),
        'base64'
      )
    end,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    updated_at = pg_catalog.now()
  where s.id = secret_id;
end
$$;

comment on function vault.update_secret(uuid, text, text, text, uuid) is
'Replaces a secret''s value, name or description; null keeps the current one. An unknown id changes nothing.';

alter function vault._local_root_key() owner to supabase_admin;
alter function vault._local_passphrase(bytea, bytea) owner to supabase_admin;
alter function vault._crypto_aead_det_noncegen() owner to supabase_admin;
alter function vault._crypto_aead_det_encrypt(bytea, bytea, bigint, bytea, bytea) owner to supabase_admin;
alter function vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea) owner to supabase_admin;
alter function vault.create_secret(text, text, text, uuid) owner to supabase_admin;
alter function vault.update_secret(uuid, text, text, text, uuid) owner to supabase_admin;

-- supabase_vault revokes its functions from PUBLIC; the schema and tables start with no grants.
revoke all on schema vault from public, anon, authenticated, service_role, postgres;
revoke all on table vault.secrets, vault.decrypted_secrets
from public, anon, authenticated, service_role, postgres;
revoke all on function
vault._local_root_key(),
vault._local_passphrase(bytea, bytea),
vault._crypto_aead_det_noncegen(),
vault._crypto_aead_det_encrypt(bytea, bytea, bigint, bytea, bytea),
vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea),
vault.create_secret(text, text, text, uuid),
vault.update_secret(uuid, text, text, text, uuid)
from public, anon, authenticated, service_role, postgres;

-- Supabase's grants (after-create.sql): postgres may use the schema, read and delete secrets,
-- call the two functions and the decryption the view needs, and pass all of it on; service_role
-- the same without passing it on. Nobody may INSERT or UPDATE vault.secrets directly.
grant usage on schema vault to postgres with grant option;
grant select, delete on table vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant execute on function
vault.create_secret(text, text, text, uuid),
vault.update_secret(uuid, text, text, text, uuid),
vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea)
to postgres with grant option;

grant usage on schema vault to service_role;
grant select, delete on table vault.secrets, vault.decrypted_secrets to service_role;
grant execute on function
vault.create_secret(text, text, text, uuid),
vault.update_secret(uuid, text, text, text, uuid),
vault._crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea)
to service_role;
