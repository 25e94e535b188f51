-- Tests supabase/schemas/29_service_limits.sql.
-- The caps SQL enforces: their defaults, the worker's writes, and no user access at all.
begin;
select plan(10);

select has_table('public', 'service_limits', 'public.service_limits exists');

select tests.authenticate_as_service();
select is(
  public.service_limit('export_schedules_per_user'), 20::bigint,
  'before the worker writes one, a cap is its default'
);
select is(public.service_limit('no_such_cap'), null::bigint, 'an unknown cap has no value');
select lives_ok(
  $$select public.set_service_limits('{"export_schedules_per_user": 3}')$$,
  'the worker writes a cap from its settings'
);
select is(public.service_limit('export_schedules_per_user'), 3::bigint, 'and the cap is that value from then on');
select throws_ok(
  $$select public.set_service_limits('{"no_such_cap": 3}')$$,
  '23514', null, 'a name that is no cap is refused'
);
select throws_ok(
  $$select public.set_service_limits('{"export_schedules_per_user": "many"}')$$,
  '22023', null, 'and so is a value that is not a number'
);

select tests.clear_authentication();
select tests.create_user('alice@example.com') as alice \gset
select tests.authenticate_as(:'alice');
select throws_ok(
  $$select value from public.service_limits$$, '42501', null, 'users cannot read the caps'
);
select throws_ok(
  $$select public.set_service_limits('{"export_schedules_per_user": 1000}')$$,
  '42501', null, 'nor set them'
);
select throws_ok(
  $$select public.service_limit('export_schedules_per_user')$$,
  '42501', null, 'nor call service_limit()'
);

select * from finish();
rollback;
