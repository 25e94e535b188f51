-- Which Vault secret holds which credential: one secret per (user, provider, credential type).
-- Only the service reaches credentials, through the three functions below; users get nothing.
-- Deleting the integration (or the user, which deletes the integration) deletes the mapping,
-- and the mapping's delete trigger deletes the Vault secret, so no secret is ever orphaned.
--
-- Only vault.create_secret(), vault.update_secret() and vault.decrypted_secrets are used (plus
-- DELETE on vault.secrets, which Supabase grants to postgres): they exist on hosted Supabase and
-- in the local layer alike.

create table public.integration_credentials (
  user_id uuid not null,
  provider text not null,
  -- e.g. api_key, access_token, refresh_token: a short identifier, never the value.
  credential_type text not null
  constraint integration_credentials_type_format check (credential_type ~ '^[a-z][a-z0-9_]{0,62}$'),
  secret_id uuid not null
  constraint integration_credentials_secret_id_key unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint integration_credentials_pkey primary key (user_id, provider, credential_type),
  -- The primary key's index leads with (user_id, provider), so it serves this foreign key.
  constraint integration_credentials_integration_fkey foreign key (user_id, provider)
  references public.integrations (user_id, provider) on delete cascade
);

comment on table public.integration_credentials is
'Maps (user, provider, credential type) to the Vault secret holding the value. Service only; deleting'
' a row deletes its secret.';

create trigger integration_credentials_set_updated_at
before update on public.integration_credentials
for each row execute function public.update_updated_at_column();

alter table public.integration_credentials enable row level security;

-- Users have no access at all; this policy says so (and no grant lets them reach the table).
create policy integration_credentials_no_user_access on public.integration_credentials
as restrictive
for all to anon, authenticated
using (false)
with check (false);

-- service_role may see which credentials exist (never their values, which need get_credential)
-- and writes only through the functions.
revoke all on table public.integration_credentials from anon, authenticated, service_role;
grant select on table public.integration_credentials to service_role;

create function public.delete_credential_secret()
returns trigger
language plpgsql
-- Deletes from vault.secrets, which only the owner (postgres on Supabase) and service_role may.
security definer
set search_path = ''
as $$
begin
  delete from vault.secrets as s where s.id = old.secret_id;
  return null;
end
$$;

comment on function public.delete_credential_secret() is
'AFTER DELETE trigger on integration_credentials: deletes the Vault secret the row pointed to.';

revoke all on function public.delete_credential_secret()
from public, anon, authenticated, service_role;

create trigger integration_credentials_delete_secret
after delete on public.integration_credentials
for each row execute function public.delete_credential_secret();

create function public.store_credential(
  p_user_id uuid,
  p_provider text,
  p_credential_type text,
  p_credential_value text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  secret_name text := pg_catalog.format(
    'haven/integrations/%s/%s/%s', p_user_id, p_provider, p_credential_type
  );
  existing_secret_id uuid;
begin
  if p_user_id is null then
    raise exception 'store_credential: p_user_id is required' using errcode = '22023';
  end if;
  if p_provider is null or not p_provider = any(public.integration_providers()) then
    raise exception 'store_credential: unknown provider %', coalesce(p_provider, 'null')
      using errcode = '22023';
  end if;
  if p_credential_type is null or p_credential_type !~ '^[a-z][a-z0-9_]{0,62}$' then
    raise exception 'store_credential: credential type must be a lowercase identifier'
      using errcode = '22023';
  end if;
  -- Never echo the value: it is a secret.
  if p_credential_value is null or p_credential_value = '' then
    raise exception 'store_credential: the credential value is empty' using errcode = '22023';
  end if;

  -- The integration row anchors the credential (deleting it deletes the secret). Locking it
  -- serialises concurrent stores for this integration, so each type keeps exactly one secret.
  begin
    insert into public.integrations (user_id, provider)
    values (p_user_id, p_provider)
    on conflict (user_id, provider) do nothing;
  exception
    when foreign_key_violation then
      raise exception 'store_credential: user % not found', p_user_id using errcode = 'P0002';
  end;
  perform
  from public.integrations as i
  where i.user_id = p_user_id and i.provider = p_provider
  for update;

  select c.secret_id into existing_secret_id
  from public.integration_credentials as c
  where c.user_id = p_user_id
    and c.provider = p_provider
    and c.credential_type = p_credential_type;

  if existing_secret_id is not null
    and exists (select from vault.secrets as s where s.id = existing_secret_id) then
    -- Replace in place: same secret id, new ciphertext.
    perform vault.update_secret(existing_secret_id, p_credential_value);
    update public.integration_credentials as c
    set updated_at = pg_catalog.now()
    where c.secret_id = existing_secret_id;
    return;
  end if;

  -- No secret yet (or it was deleted behind our back). A secret under our name that no row maps
  -- could only be left by a manual edit of the vault; it would block the unique name.
  delete from vault.secrets as s
  where s.name = secret_name
    and not exists (select from public.integration_credentials as c where c.secret_id = s.id);
  insert into public.integration_credentials (user_id, provider, credential_type, secret_id)
  values (
    p_user_id,
    p_provider,
    p_credential_type,
    vault.create_secret(
      p_credential_value,
      secret_name,
      pg_catalog.format('Haven Hub %s %s', p_provider, p_credential_type)
    )
  )
  on conflict (user_id, provider, credential_type)
  do update set secret_id = excluded.secret_id, updated_at = pg_catalog.now();
end
$$;

comment on function public.store_credential(uuid, text, text, text) is
'Stores a credential in Vault, replacing the previous value in place (one secret per '
'user/provider/type). Creates the integration row if missing. Service only. 22023: bad argument; '
'P0002: unknown user.';

revoke all on function public.store_credential(uuid, text, text, text)
from public, anon, authenticated;
grant execute on function public.store_credential(uuid, text, text, text) to service_role;

-- Every read of a credential leaves a row (never the value): when, whose, which provider and
-- type, which part of the service asked and why. Users read their own; operators all.
create table public.credential_reads (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  provider text not null,
  credential_type text not null,
  reader text not null
  constraint credential_reads_reader_not_blank check (btrim(reader) <> ''),
  purpose text not null
  constraint credential_reads_purpose_not_blank check (btrim(purpose) <> ''),
  found boolean not null,
  read_at timestamptz not null default now()
);

comment on table public.credential_reads is
'One row per read of a stored credential through get_credential(): whose, which provider and '
'type, which part of the service read it and why, and whether one was stored. Never the value. '
'Users read their own rows; written only by get_credential().';

-- The user's own list, newest first; leads with user_id, so it serves the foreign key too.
create index credential_reads_user_id_read_at_idx
on public.credential_reads (user_id, read_at desc);

alter table public.credential_reads enable row level security;

create policy credential_reads_select_own on public.credential_reads
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.credential_reads from anon, authenticated, service_role;
grant select on table public.credential_reads to authenticated;
grant select, delete on table public.credential_reads to service_role;
-- Rows are inserted by get_credential() as its owner: nobody else needs the sequence.
revoke all on sequence public.credential_reads_id_seq from anon, authenticated, service_role;

create function public.get_credential(
  p_user_id uuid,
  p_provider text,
  p_credential_type text,
  p_reader text,
  p_purpose text
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  value text;
begin
  if p_reader is null or pg_catalog.btrim(p_reader) = '' or p_purpose is null or pg_catalog.btrim(p_purpose) = '' then
    raise exception 'get_credential: say who reads the credential (p_reader) and why (p_purpose)'
      using errcode = '22023';
  end if;
  select d.decrypted_secret into value
  from public.integration_credentials as c
  inner join vault.decrypted_secrets as d on c.secret_id = d.id
  where
    c.user_id = p_user_id
    and c.provider = p_provider
    and c.credential_type = p_credential_type;
  insert into public.credential_reads (user_id, provider, credential_type, reader, purpose, found)
  select p_user_id, p_provider, p_credential_type, p_reader, p_purpose, value is not null
  -- A read for a user who does not exist has nobody to audit it for (and nothing to find).
  where exists (select from auth.users as u where u.id = p_user_id);
  return value;
end
$$;

comment on function public.get_credential(uuid, text, text, text, text) is
'The decrypted credential, or null when none is stored; every call is recorded in '
'credential_reads with p_reader (the part of the service) and p_purpose, never the value. '
'Service only. 22023: no reader or purpose.';

revoke all on function public.get_credential(uuid, text, text, text, text)
from public, anon, authenticated;
grant execute on function public.get_credential(uuid, text, text, text, text) to service_role;

create function public.prune_credential_reads(p_older_than interval)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  pruned integer;
begin
  if p_older_than is null or p_older_than < interval '1 day' then
    raise exception 'prune_credential_reads: keep at least a day of reads' using errcode = '22023';
  end if;
  delete from public.credential_reads as r where r.read_at < pg_catalog.now() - p_older_than;
  get diagnostics pruned = row_count;
  return pruned;
end
$$;

comment on function public.prune_credential_reads(interval) is
'Deletes credential reads older than p_older_than (at least a day); returns how many. The worker '
'runs it daily with HAVEN_KEEP_CREDENTIAL_READS_DAYS. Service only.';

revoke all on function public.prune_credential_reads(interval) from public, anon, authenticated;
grant execute on function public.prune_credential_reads(interval) to service_role;

-- Takes the integration row lock store_credential takes, so a store and a deletion of the same
-- integration run one after the other. Without it a store that began during a deletion would
-- find the old secret still visible, wait on it, then replace nothing (the secret was gone) and
-- report success: the new credential would be lost.
create function public.delete_credentials(
  p_user_id uuid,
  p_provider text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform
  from public.integrations as i
  where i.user_id = p_user_id and i.provider = p_provider
  for update;
  -- The delete trigger removes each row's Vault secret.
  delete from public.integration_credentials as c
  where c.user_id = p_user_id and c.provider = p_provider;
end
$$;

comment on function public.delete_credentials(uuid, text) is
'Deletes every credential of one integration, and their Vault secrets, under the integration''s '
'row lock (as store_credential takes it). Service only.';

revoke all on function public.delete_credentials(uuid, text)
from public, anon, authenticated;
grant execute on function public.delete_credentials(uuid, text) to service_role;
