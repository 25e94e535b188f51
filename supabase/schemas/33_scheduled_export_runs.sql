-- When scheduled exports run: the database computes next_run_at (a new schedule, a changed
-- frequency, a re-enabled schedule), the worker claims due schedules (SKIP LOCKED) and advances
-- each one period in the same transaction that queues its run, so a crash neither runs a period
-- twice nor skips one. Users cannot write next_run_at at all (31_scheduled_exports.sql).

create function public.first_export_run_at(p_frequency text, p_now timestamptz default now())
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
  utc_now timestamp := p_now at time zone 'UTC';
begin
  -- Runs start at a period boundary in UTC, so last_week / last_month is a calendar week
  -- (Monday to Monday) or a calendar month.
  case p_frequency
    when 'weekly' then
      return (pg_catalog.date_trunc('week', utc_now) + interval '7 days') at time zone 'UTC';
    when 'monthly' then
      return (pg_catalog.date_trunc('month', utc_now) + interval '1 month') at time zone 'UTC';
    else
      raise exception 'first_export_run_at: frequency must be weekly or monthly, not %', p_frequency
        using errcode = '22023';
  end case;
end
$$;

comment on function public.first_export_run_at(text, timestamptz) is
'The first run of a schedule created at p_now: the next Monday 00:00 UTC (weekly) or the next '
'1st of a month 00:00 UTC (monthly). 22023 for another frequency.';

revoke all on function public.first_export_run_at(text, timestamptz) from public, anon, authenticated;
-- The trigger below calls it with the writing role's rights.
grant execute on function public.first_export_run_at(text, timestamptz) to authenticated, service_role;

create function public.next_export_run_at(p_frequency text, p_after timestamptz)
returns timestamptz
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- In UTC, so a session's time zone (and its DST) never moves a run. Month arithmetic clamps to the month's end: Jan 31 + 1 month = Feb 28 (29 in a leap year).
  case p_frequency
    when 'weekly' then
      return ((p_after at time zone 'UTC') + interval '7 days') at time zone 'UTC';
    when 'monthly' then
      return ((p_after at time zone 'UTC') + interval '1 month') at time zone 'UTC';
    else
      raise exception 'next_export_run_at: frequency must be weekly or monthly, not %', p_frequency
        using errcode = '22023';
  end case;
end
$$;

comment on function public.next_export_run_at(text, timestamptz) is
'The run one period after p_after: +7 days (weekly) or +1 calendar month in UTC, clamped to the '
'month''s last day (monthly). 22023 for another frequency.';

revoke all on function public.next_export_run_at(text, timestamptz) from public, anon, authenticated;
grant execute on function public.next_export_run_at(text, timestamptz) to service_role;

create function public.schedule_export_run()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.next_run_at is null then
      new.next_run_at := public.first_export_run_at(new.frequency);
    end if;
  elsif new.next_run_at is not distinct from old.next_run_at
    and (new.frequency is distinct from old.frequency or (new.enabled and not old.enabled)) then
    -- A new rhythm, or a schedule switched back on: start from the next boundary rather than
    -- catching up on every period it missed while off.
    new.next_run_at := public.first_export_run_at(new.frequency);
  end if;
  return new;
end
$$;

comment on function public.schedule_export_run() is
'Trigger: fills next_run_at of a new schedule, and recomputes it when the frequency changes or '
'the schedule is enabled again (unless the same write sets next_run_at itself).';

revoke all on function public.schedule_export_run() from public, anon, authenticated;

create trigger scheduled_exports_schedule_run
before insert or update on public.scheduled_exports
for each row execute function public.schedule_export_run();

create function public.claim_due_exports(p_limit integer default 10)
returns setof public.scheduled_exports
language plpgsql
set search_path = ''
as $$
begin
  if p_limit is null or p_limit < 1 then
    raise exception 'claim_due_exports: p_limit must be at least 1, not %', p_limit using errcode = '22023';
  end if;
  -- Locks the rows until the caller's transaction ends; another runner skips them rather than
  -- waiting, and sees them again only once advanced (then not due) or released.
  return query
  select s.*
  from public.scheduled_exports as s
  where s.enabled and s.next_run_at <= pg_catalog.now()
  order by s.next_run_at
  limit p_limit
  for update skip locked;
end
$$;

comment on function public.claim_due_exports(integer) is
'Locks (FOR UPDATE SKIP LOCKED) and returns up to p_limit enabled schedules due now, oldest run '
'first. Service only. The caller queues each run and calls advance_scheduled_export() in the '
'same transaction. 22023 when p_limit < 1.';

revoke all on function public.claim_due_exports(integer) from public, anon, authenticated;
grant execute on function public.claim_due_exports(integer) to service_role;

create function public.advance_scheduled_export(p_id uuid)
returns timestamptz
language plpgsql
set search_path = ''
as $$
declare
  advanced timestamptz;
begin
  update public.scheduled_exports
  set last_run_at = next_run_at,
    next_run_at = public.next_export_run_at(frequency, next_run_at)
  where id = p_id
  returning next_run_at into advanced;
  if advanced is null then
    raise exception 'advance_scheduled_export: no schedule %', p_id using errcode = 'P0002';
  end if;
  return advanced;
end
$$;

comment on function public.advance_scheduled_export(uuid) is
'Moves a schedule one period on: last_run_at becomes the run just queued, next_run_at the one '
'after it (weekly +7 days, monthly +1 month clamped to the month''s end). Returns the new '
'next_run_at. Service only. P0002 when there is no such schedule.';

revoke all on function public.advance_scheduled_export(uuid) from public, anon, authenticated;
grant execute on function public.advance_scheduled_export(uuid) to service_role;
