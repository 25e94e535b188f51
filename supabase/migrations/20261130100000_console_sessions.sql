-- Issue 13: the console's server-side sessions and sign-in attempt counter (supabase/schemas/71_console_sessions.sql).
-- The console's server-side sessions and its sign-in attempt counter (service only).
-- A browser holds only an opaque random session id in an HttpOnly cookie; the table keeps the
-- SHA-256 of that id (a leaked table cannot be replayed as a cookie), who is signed in, and on a
-- hosted project the Supabase Auth access and refresh tokens, which never reach the browser.
-- Sessions end at sign-out, when idle too long (the service's setting), at an absolute expiry,
-- or when the user is deleted; expired rows are pruned at each sign-in.

create table public.console_sessions (
  id uuid primary key default gen_random_uuid(),
  session_hash bytea not null
  constraint console_sessions_session_hash_key unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  email text,
  -- local: the local stack's sign-in (no Auth server); supabase: signed in through Supabase Auth.
  kind text not null
  constraint console_sessions_kind_known check (kind in ('local', 'supabase')),
  access_token text,
  refresh_token text,
  access_expires_at timestamptz,
  -- The synchronizer token every state-changing form of this session carries.
  csrf_token text not null
  constraint console_sessions_csrf_token_long check (pg_catalog.length(csrf_token) >= 32),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint console_sessions_tokens_iff_supabase check (
    (kind = 'supabase')
    = (access_token is not null and refresh_token is not null and access_expires_at is not null)
  ),
  constraint console_sessions_no_tokens_when_local check (
    kind = 'supabase' or (access_token is null and refresh_token is null and access_expires_at is null)
  )
);

comment on table public.console_sessions is
'Console sign-in sessions: SHA-256 of the cookie''s opaque id, the user, and (hosted) the Supabase '
'Auth tokens, kept server-side. Service only; pruned by prune_console_sessions().';

create index console_sessions_user_id_idx on public.console_sessions (user_id);
create index console_sessions_expires_at_idx on public.console_sessions (expires_at);

alter table public.console_sessions enable row level security;

-- No user access: sessions hold Auth tokens, and only the service reads or writes them.
create policy console_sessions_no_user_access on public.console_sessions
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.console_sessions from anon, authenticated, service_role;
grant select, insert, update, delete on table public.console_sessions to service_role;

create table public.console_sign_in_attempts (
  id bigint generated always as identity primary key,
  -- 'account:<lower-case email>' or 'address:<client address>'.
  subject text not null,
  attempted_at timestamptz not null default now()
);

comment on table public.console_sign_in_attempts is
'One row per console sign-in attempt and subject (account, client address), counted by '
'allow_sign_in_attempt() so the limit holds across every server process. Service only.';

create index console_sign_in_attempts_subject_idx
on public.console_sign_in_attempts (subject, attempted_at);

alter table public.console_sign_in_attempts enable row level security;

create policy console_sign_in_attempts_no_user_access on public.console_sign_in_attempts
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.console_sign_in_attempts from anon, authenticated, service_role;
revoke all on sequence public.console_sign_in_attempts_id_seq from anon, authenticated, service_role;

create function public.allow_sign_in_attempt(
  p_account text,
  p_address text,
  p_account_limit integer,
  p_address_limit integer,
  p_window_seconds integer
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  account_subject text := 'account:' || pg_catalog.lower(pg_catalog.btrim(coalesce(p_account, '')));
  address_subject text := 'address:' || coalesce(p_address, 'unknown');
  since timestamptz;
  account_count bigint;
  address_count bigint;
begin
  if p_account_limit is null or p_address_limit is null or p_window_seconds is null
    or p_account_limit < 1 or p_address_limit < 1 or p_window_seconds < 1 then
    raise exception 'allow_sign_in_attempt: limits and window must be positive' using errcode = '22023';
  end if;
  since := pg_catalog.now() - pg_catalog.make_interval(secs => p_window_seconds);
  -- Every attempt counts, allowed or not: hammering a locked account keeps it locked.
  insert into public.console_sign_in_attempts (subject)
  values (account_subject), (address_subject);
  select
    pg_catalog.count(*) filter (where a.subject = account_subject),
    pg_catalog.count(*) filter (where a.subject = address_subject)
  into account_count, address_count
  from public.console_sign_in_attempts as a
  where a.subject in (account_subject, address_subject) and a.attempted_at > since;
  return account_count <= p_account_limit and address_count <= p_address_limit;
end
$$;

comment on function public.allow_sign_in_attempt(text, text, integer, integer, integer) is
'Records a console sign-in attempt for the account and the client address; true while both are '
'within their limit over the window. Service only.';

revoke all on function public.allow_sign_in_attempt(text, text, integer, integer, integer)
from public, anon, authenticated;
grant execute on function public.allow_sign_in_attempt(text, text, integer, integer, integer)
to service_role;

create function public.prune_console_sessions(p_attempts_older_than_seconds integer default 86400)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  pruned integer;
begin
  delete from public.console_sessions as s where s.expires_at < pg_catalog.now();
  get diagnostics pruned = row_count;
  delete from public.console_sign_in_attempts as a
  where a.attempted_at < pg_catalog.now() - pg_catalog.make_interval(secs => p_attempts_older_than_seconds);
  return pruned;
end
$$;

comment on function public.prune_console_sessions(integer) is
'Deletes console sessions past their absolute expiry and sign-in attempts older than the given '
'age (default a day); returns how many sessions went. Service only (each sign-in calls it).';

revoke all on function public.prune_console_sessions(integer) from public, anon, authenticated;
grant execute on function public.prune_console_sessions(integer) to service_role;
