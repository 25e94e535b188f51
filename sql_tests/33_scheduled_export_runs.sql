-- Tests supabase/schemas/33_scheduled_export_runs.sql.
-- When scheduled exports run. First run, next run (weekly, monthly, month ends), the trigger that
-- recomputes next_run_at, claim_due_exports, advance_scheduled_export.
begin;
select plan(21);

select is(
  public.first_export_run_at('weekly', '2026-11-25 10:00+00'), '2026-11-30 00:00+00'::timestamptz,
  'a weekly schedule first runs the next Monday 00:00 UTC'
);
select is(
  public.first_export_run_at('weekly', '2026-11-30 00:00+00'), '2026-12-07 00:00+00'::timestamptz,
  'never now: a schedule made on Monday 00:00 first runs a week later'
);
select is(
  public.first_export_run_at('monthly', '2026-11-25 10:00+00'), '2026-12-01 00:00+00'::timestamptz,
  'a monthly schedule first runs the next 1st 00:00 UTC'
);
select throws_ok(
  $$select public.first_export_run_at('daily')$$, '22023', null, 'daily is not a frequency'
);
select is(
  public.next_export_run_at('weekly', '2026-11-30 00:00+00'), '2026-12-07 00:00+00'::timestamptz,
  'weekly: seven days on'
);
select is(
  public.next_export_run_at('monthly', '2027-01-31 06:00+00'), '2027-02-28 06:00+00'::timestamptz,
  'monthly: Jan 31 -> Feb 28'
);
select is(
  public.next_export_run_at('monthly', '2028-01-31 06:00+00'), '2028-02-29 06:00+00'::timestamptz,
  'monthly: Jan 31 -> Feb 29 in a leap year'
);
select is(
  public.next_export_run_at('monthly', '2026-12-01 00:00+00'), '2027-01-01 00:00+00'::timestamptz,
  'monthly: across the year end'
);
set local timezone = 'America/New_York';
select is(
  public.next_export_run_at('weekly', '2026-03-02 00:00+00'), '2026-03-09 00:00+00'::timestamptz,
  'the session''s time zone and its DST change do not move a run'
);
select is(
  public.first_export_run_at('monthly', '2026-11-30 23:00-05'), '2027-01-01 00:00+00'::timestamptz,
  'boundaries are UTC ones whatever the session''s time zone'
);
reset timezone;

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select tests.authenticate_as(:'alice');
insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
values (:'alice', 'orders', 'weekly', 'download');
select is(
  (select next_run_at from public.scheduled_exports), public.first_export_run_at('weekly'),
  'a new schedule without next_run_at gets its first run computed'
);
update public.scheduled_exports set frequency = 'monthly';
select is(
  (select next_run_at from public.scheduled_exports), public.first_export_run_at('monthly'),
  'changing the frequency recomputes next_run_at'
);
-- A schedule left off since long ago (written by the owner role: users cannot set next_run_at).
select tests.clear_authentication();
update public.scheduled_exports set next_run_at = '2020-01-06 00:00+00', enabled = false;
select tests.authenticate_as(:'alice');
update public.scheduled_exports set enabled = true;
select is(
  (select next_run_at from public.scheduled_exports), public.first_export_run_at('monthly'),
  'enabling a schedule again starts from the next boundary, not from the periods it missed'
);
select throws_ok(
  $$select * from public.claim_due_exports(10)$$, '42501', null, 'users cannot claim schedules'
);
select throws_ok(
  $$select public.advance_scheduled_export(gen_random_uuid())$$, '42501', null, 'nor advance them'
);

-- Set-up rows for another user, written as the test's own (owner) role.
select tests.clear_authentication();
insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, next_run_at, enabled)
values
(:'bob', 'leads', 'weekly', 'download', now() - interval '2 days', true),
(:'bob', 'pins', 'weekly', 'download', now() - interval '1 day', true),
(:'bob', 'quotes', 'weekly', 'download', now() - interval '3 days', false),
(:'bob', 'assets', 'monthly', 'download', now() + interval '1 day', true);
select tests.authenticate_as_service();
select results_eq(
  $$select export_type from public.claim_due_exports(10)$$,
  $$values ('leads'), ('pins')$$,
  'claim_due_exports returns the enabled, due schedules, oldest run first'
);
select results_eq(
  $$select export_type from public.claim_due_exports(1)$$, $$values ('leads')$$, 'at most p_limit'
);
select tests.authenticate_as_service();
select throws_ok($$select * from public.claim_due_exports(0)$$, '22023', null, 'p_limit is at least 1');

select
  id as leads_id,
  next_run_at as leads_run
from public.scheduled_exports where export_type = 'leads' \gset
select is(
  public.advance_scheduled_export(:'leads_id'), :'leads_run'::timestamptz + interval '7 days',
  'advance returns the next run'
);
select results_eq(
  format('select last_run_at, next_run_at from public.scheduled_exports where id = %L', :'leads_id'),
  format('values (%L::timestamptz, %L::timestamptz + interval ''7 days'')', :'leads_run', :'leads_run'),
  'the run just queued becomes last_run_at'
);
select throws_ok(
  $$select public.advance_scheduled_export(gen_random_uuid())$$, 'P0002', null,
  'advancing an unknown schedule is P0002'
);

select * from finish();
rollback;
