-- retry_now() and set_setup_step() were SECURITY DEFINER functions users execute, which Supabase's
-- advisor flags (authenticated_security_definer_function_executable). They are now SECURITY
-- INVOKER: users get the one column update each needs, on their own rows (RLS), and a trigger
-- refuses anything else, through these functions or the Data API alike.
-- (supabase/schemas/17_setup_progress.sql, 18_retry_queue.sql)

-- Users may make one change, on their own rows: a pending or failed item due now (retry_now(),
-- or the same update through the Data API). The columns it touches are theirs to update, and
-- guard_user_retry() below refuses any other change.
create policy retry_queue_update_own on public.retry_queue
for update to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

grant update (
  status, next_retry_at, max_attempts, worker_id, claimed_at, heartbeat_at
) on table public.retry_queue to authenticated;

create function public.guard_user_retry()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- The worker (service_role) and the owner move items through every state; a user only this.
  if current_user <> 'authenticated' then
    return new;
  end if;
  if old.status not in ('pending', 'failed') then
    raise exception 'retry item % is %, only a pending or failed item can be retried', old.id, old.status
      using errcode = '55000';
  end if;
  if
    new.status <> 'pending'
    or new.next_retry_at <> pg_catalog.now()
    or new.max_attempts <> greatest(old.max_attempts, old.attempts + 1)
    or new.worker_id is not null
    or new.claimed_at is not null
    or new.heartbeat_at is not null
  then
    raise exception 'a user may only make their own pending or failed item due now (retry_now)'
      using errcode = '42501';
  end if;
  return new;
end
$$;

comment on function public.guard_user_retry() is
'BEFORE UPDATE trigger on retry_queue: an update by a signed-in user (not the service) may only '
'make a pending or failed item due now, with one more attempt if it used them up, and release it '
'(what retry_now() does). 55000: the item is processing or resolved; 42501: any other change.';

revoke all on function public.guard_user_retry() from public, anon, authenticated, service_role;

create trigger retry_queue_guard_user_retry
before update on public.retry_queue
for each row execute function public.guard_user_retry();

create or replace function public.retry_now(p_id uuid)
returns public.retry_queue
language plpgsql
security invoker
-- SECURITY INVOKER: the caller's own row only (RLS), and only this change (guard_user_retry()).
set search_path = ''
as $$
declare
  item public.retry_queue;
begin
  select q.* into item
  from public.retry_queue as q
  where q.id = p_id and q.user_id = (select auth.uid())
  for update;
  if not found then
    raise exception 'retry item % not found', p_id using errcode = 'P0002';
  end if;
  if item.status not in ('pending', 'failed') then
    raise exception 'retry item % is %, only a pending or failed item can be retried', p_id, item.status
      using errcode = '55000';
  end if;

  update public.retry_queue as q
  set
    status = 'pending',
    next_retry_at = pg_catalog.now(),
    -- An item that used up its attempts gets exactly one more.
    max_attempts = greatest(q.max_attempts, q.attempts + 1),
    worker_id = null, claimed_at = null, heartbeat_at = null
  where q.id = item.id
  returning q.* into item;

  perform pg_catalog.pg_notify('retry_queue', '');
  return item;
end
$$;

comment on function public.retry_now(uuid) is
'The caller''s pending or failed item becomes due now; a failed item at max_attempts gets one more '
'attempt. Returns the item. P0002: no such item of the caller''s; 55000: it is processing or '
'resolved. For signed-in users (SECURITY INVOKER: RLS and guard_user_retry() bound it).';

revoke all on function public.retry_now(uuid) from public, anon, authenticated;
grant execute on function public.retry_now(uuid) to authenticated;

-- The column users may write, bounded by the CHECK, RLS and the guard below.
grant update (setup_progress) on table public.user_settings to authenticated;

create function public.guard_setup_progress()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  step text;
begin
  if current_user <> 'authenticated' then
    return new;  -- the service completes connection steps itself when a connection is made
  end if;
  -- A connection step is completed by connecting, not by saying so (skipping is fine).
  for step in
    select e.key
    from pg_catalog.jsonb_each_text(new.setup_progress) as e
    where
      e.value = 'completed'
      and e.value is distinct from old.setup_progress ->> e.key
      and e.key = any(public.integration_providers())
  loop
    if not exists (
      select from public.integrations as i
      where i.user_id = new.user_id and i.provider = step and i.status = 'connected'
    ) then
      raise exception 'connect % before marking its setup step completed', step using errcode = '55000';
    end if;
  end loop;
  return new;
end
$$;

comment on function public.guard_setup_progress() is
'BEFORE UPDATE OF setup_progress trigger on user_settings: a signed-in user completes a connection '
'step only while that integration is connected. 55000 otherwise.';

revoke all on function public.guard_setup_progress() from public, anon, authenticated, service_role;

create trigger user_settings_guard_setup_progress
before update of setup_progress on public.user_settings
for each row execute function public.guard_setup_progress();

create or replace function public.set_setup_step(p_step text, p_status text)
returns jsonb
language plpgsql
security invoker
-- SECURITY INVOKER: the caller's own row (RLS), the guard and the CHECK bound it.
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
begin
  if caller is null then
    raise exception 'set_setup_step: no signed-in user' using errcode = '42501';
  end if;
  return public.set_setup_step_for_user(caller, p_step, p_status);
end
$$;

comment on function public.set_setup_step(text, text) is
'Sets one of the calling user''s wizard steps to pending, completed or skipped; returns the new '
'progress. 22023: unknown step or status; 55000: completing a connection step that is not connected.';

revoke all on function public.set_setup_step(text, text) from public, anon, authenticated;
grant execute on function public.set_setup_step(text, text) to authenticated, service_role;

comment on function public.set_setup_step_for_user(uuid, text, text) is
'Sets one wizard step of one user to pending, completed or skipped; returns the new progress. '
'The service''s for any user; a signed-in user reaches only their own row (RLS). 22023: unknown '
'step or status; P0002: no such user (or not the caller''s).';

-- SECURITY INVOKER: service_role updates user_settings with its own grant; a signed-in user (through
-- set_setup_step) reaches their own row only, under the guard below.
revoke all on function public.set_setup_step_for_user(uuid, text, text)
from public, anon, authenticated;
grant execute on function public.set_setup_step_for_user(uuid, text, text) to authenticated, service_role;
