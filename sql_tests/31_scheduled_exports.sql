-- Tests supabase/schemas/31_scheduled_exports.sql.
-- The plan's table, owner-only under RLS, with next_run_at and last_run_at out of users' reach and
-- the API's rules held in CHECKs too.
begin;
select plan(13);

select has_table('public', 'scheduled_exports', 'public.scheduled_exports exists');
select columns_are(
  'public', 'scheduled_exports',
  array[
    'id', 'user_id', 'export_type', 'format', 'field_selection', 'date_range_type', 'frequency', 'enabled',
    'delivery_method', 'delivery_email', 'last_run_at', 'next_run_at', 'created_at', 'updated_at'
  ],
  'it has the plan''s columns'
);
select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select tests.authenticate_as(:'alice');
select lives_ok(
  format(
    $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_email)
      values (%L, 'orders', 'weekly', 'alice@example.com')$$,
    :'alice'
  ),
  'a user schedules an export for herself'
);
select throws_ok(
  format(
    $$insert into public.scheduled_exports (user_id, export_type, frequency)
      values (%L, 'orders', 'weekly')$$,
    :'bob'
  ),
  '42501', null, 'but not for someone else'
);
select throws_ok(
  $$update public.scheduled_exports set last_run_at = now()$$, '42501', null,
  'last_run_at is the runner''s to write'
);
select throws_ok(
  $$update public.scheduled_exports set next_run_at = '1990-01-01'$$, '42501', null,
  'and so is next_run_at (a past one would queue every period since)'
);
select throws_ok(
  format(
    $$insert into public.scheduled_exports (user_id, export_type, frequency, next_run_at)
      values (%L, 'orders', 'weekly', '1990-01-01')$$,
    :'alice'
  ),
  '42501', null, 'even when the schedule is created'
);
select throws_ok(
  format(
    $$insert into public.scheduled_exports (user_id, export_type, frequency)
      values (%L, 'orders', 'daily')$$,
    :'alice'
  ),
  '22023', null, 'the frequency is weekly or monthly (the first run cannot be computed for another)'
);
select is(
  (select format from public.scheduled_exports), 'csv', 'the format defaults to csv'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    values (auth.uid(), 'invoices', 'weekly', 'download')$$,
  '23514', null, 'the export type is one of export_types()'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    values (auth.uid(), 'orders', 'weekly', 'email')$$,
  '23514', null, 'an emailed schedule needs an address'
);

select tests.authenticate_as(:'bob');
select is_empty($$select from public.scheduled_exports$$, 'bob does not see alice''s schedules');
select results_eq(
  $$with deleted as (delete from public.scheduled_exports returning 1) select count(*) from deleted$$,
  $$values (0::bigint)$$,
  'nor can he delete them'
);

select * from finish();
rollback;
