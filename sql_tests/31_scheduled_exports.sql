-- Tests supabase/schemas/31_scheduled_exports.sql.
-- The plan's table, owner-only under RLS, with next_run_at and last_run_at out of users' reach and
-- the API's rules held in CHECKs too.
begin;
select plan(29);

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

-- The schedule's fields, held here as the API holds them (issue 15).
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    values (auth.uid(), 'orders', 'weekly', 'download', '{total,title}')$$,
  '23514', 'field_selection: unknown field(s) for orders: title (the fields are id, shopify_order_id, '
  || 'customer_email, total, subtotal, discount_total, item_count, status, created_at, attribution_channel, '
  || 'coupon_code, refunded_total)',
  'a field the type does not have is refused, naming it'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    values (auth.uid(), 'orders', 'weekly', 'download', '{total,total}')$$,
  '23514', 'field_selection: field(s) listed more than once: total', 'so is a field listed twice'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    values (auth.uid(), 'orders', 'weekly', 'download', array['total', null])$$,
  '23514', null, 'and a null field'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    values (auth.uid(), 'orders', 'weekly', 'download', array[array['id', 'total'], array['status', 'item_count']])$$,
  '23514', null, 'and a list of lists'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    select auth.uid(), 'orders', 'weekly', 'download', array_agg('total'::text) from generate_series(1, 100000)$$,
  '23514', null, 'and a long list, before anything looks at its keys'
);
select throws_ok(
  format(
    $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_email)
      values (auth.uid(), 'orders', 'weekly', %L)$$,
    repeat('a', 250) || '@example.com'
  ),
  '23514', null, 'a delivery address is at most 254 characters'
);
select lives_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method, field_selection)
    values (auth.uid(), 'pins', 'weekly', 'download', '{title,board_name}')$$,
  'fields of the type, each once, are kept'
);

-- A schedule that no longer validates (its type lost a field since) can still be switched off,
-- changed otherwise, and deleted; switching it back on needs its fields fixed.
select tests.clear_authentication();
alter table public.scheduled_exports disable trigger scheduled_exports_check_fields;
update public.scheduled_exports set field_selection = '{title,gone_field}' where export_type = 'pins';
alter table public.scheduled_exports enable trigger scheduled_exports_check_fields;
select tests.authenticate_as(:'alice');
select lives_ok(
  $$update public.scheduled_exports set enabled = false, delivery_email = 'new@example.com'
    where export_type = 'pins'$$,
  'a schedule whose fields went stale can be switched off (and its other columns changed)'
);
select throws_ok(
  $$update public.scheduled_exports set enabled = true where export_type = 'pins'$$,
  '23514', null, 'but not switched back on until its fields are fixed'
);
select lives_ok(
  $$update public.scheduled_exports set enabled = true, field_selection = '{title}' where export_type = 'pins'$$,
  'which is one update'
);

-- The per-user cap (service_limit('export_schedules_per_user'), 20 unless the worker wrote one).
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    select auth.uid(), 'orders', 'weekly', 'download' from generate_series(1, 1000)$$,
  'PT409', null, 'a thousand schedules in one statement are refused'
);
select is((select count(*) from public.scheduled_exports), 2::bigint, 'and none of them is kept');
select lives_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    select auth.uid(), 'orders', 'weekly', 'download' from generate_series(1, 18)$$,
  'up to the cap, they are'
);
select throws_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    values (auth.uid(), 'leads', 'weekly', 'download')$$,
  'PT409', 'export_schedules_per_user: at most 20 export schedules per account, and this one has 20: delete one first',
  'the next one is refused, naming the cap'
);

select tests.authenticate_as(:'bob');
select is_empty($$select from public.scheduled_exports$$, 'bob does not see alice''s schedules');
select results_eq(
  $$with deleted as (delete from public.scheduled_exports returning 1) select count(*) from deleted$$,
  $$values (0::bigint)$$,
  'nor can he delete them'
);

select tests.authenticate_as(:'bob');
select lives_ok(
  $$insert into public.scheduled_exports (user_id, export_type, frequency, delivery_method)
    values (auth.uid(), 'leads', 'weekly', 'download')$$,
  'the cap is per user: bob still schedules'
);
select tests.authenticate_as(:'alice');
select lives_ok(
  $$delete from public.scheduled_exports where export_type = 'pins'$$,
  'deleting one makes room'
);

select * from finish();
rollback;
