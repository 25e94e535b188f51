-- Changing setup wizard progress. A user changes their own row only (RLS), to a valid progress
-- object (the CHECK in 12_user_settings.sql), and completes a connection step only by connecting
-- and the import step only by importing (guard_setup_progress() below): through set_setup_step()
-- or the Data API alike. The service
-- uses set_setup_step_for_user(), and connecting an integration completes that provider's step
-- by trigger.

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
  -- The import step completes when an import of the shop's data does (47_shopify_import.sql).
  if new.setup_progress ->> 'import' = 'completed'
    and (old.setup_progress ->> 'import') is distinct from 'completed'
    and not exists (
      select from public.shopify_imports as si
      where si.user_id = new.user_id and si.status = 'completed'
    ) then
    raise exception 'the import step completes when an import of the shop''s data completes' using errcode = '55000';
  end if;
  return new;
end
$$;

comment on function public.guard_setup_progress() is
'BEFORE UPDATE OF setup_progress trigger on user_settings: a signed-in user completes a connection '
'step only while that integration is connected, and the import step only once an import completed. '
'55000 otherwise.';

revoke all on function public.guard_setup_progress() from public, anon, authenticated, service_role;

create trigger user_settings_guard_setup_progress
before update of setup_progress on public.user_settings
for each row execute function public.guard_setup_progress();

create function public.set_setup_step_for_user(
  p_user_id uuid,
  p_step text,
  p_status text
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  progress jsonb;
begin
  if p_step is null or not p_step = any(public.setup_steps()) then
    raise exception 'unknown setup step %; the steps are %',
      coalesce(p_step, 'null'), pg_catalog.array_to_string(public.setup_steps(), ', ')
      using errcode = '22023';
  end if;
  if p_status is null or p_status not in ('pending', 'completed', 'skipped') then
    raise exception 'setup step status must be pending, completed or skipped, not %',
      coalesce(p_status, 'null')
      using errcode = '22023';
  end if;

  update public.user_settings as s
  set setup_progress = pg_catalog.jsonb_set(s.setup_progress, array[p_step], pg_catalog.to_jsonb(p_status))
  where s.user_id = p_user_id
  returning s.setup_progress into progress;
  if not found then
    raise exception 'no settings for user %', p_user_id using errcode = 'P0002';
  end if;
  return progress;
end
$$;

comment on function public.set_setup_step_for_user(uuid, text, text) is
'Sets one wizard step of one user to pending, completed or skipped; returns the new progress. '
'The service''s for any user; a signed-in user reaches only their own row (RLS). 22023: unknown '
'step or status; P0002: no such user (or not the caller''s).';

-- SECURITY INVOKER: service_role updates user_settings with its own grant; a signed-in user (through
-- set_setup_step) reaches their own row only, under the guard below.
revoke all on function public.set_setup_step_for_user(uuid, text, text)
from public, anon, authenticated;
grant execute on function public.set_setup_step_for_user(uuid, text, text) to authenticated, service_role;

create function public.set_setup_step(p_step text, p_status text)
returns jsonb
language plpgsql
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

create function public.complete_setup_step_on_connect()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and old.status = 'connected' then
    return null;
  end if;
  -- Sky Pilot, for one, has no wizard step.
  if new.provider = any(public.setup_steps()) then
    begin
      perform public.set_setup_step_for_user(new.user_id, new.provider, 'completed');
    exception
      -- A user without a settings row still gets connected.
      when no_data_found then null;
    end;
  end if;
  return null;
end
$$;

comment on function public.complete_setup_step_on_connect() is
'AFTER INSERT/UPDATE trigger on integrations: when a row becomes connected, completes that '
'provider''s wizard step (if it has one).';

-- Only ever run as a trigger, with the rights of the role writing integrations (the service).
revoke all on function public.complete_setup_step_on_connect()
from public, anon, authenticated, service_role;

create trigger integrations_complete_setup_step
after insert or update of status on public.integrations
for each row
when (new.status = 'connected')
execute function public.complete_setup_step_on_connect();
