-- Every read of a stored credential is audited (supabase/schemas/15_credentials.sql):
-- get_credential() now says who reads and why, and records it in credential_reads.

drop function public.get_credential(uuid, text, text);

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
