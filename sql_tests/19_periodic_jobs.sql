-- Tests supabase/schemas/19_periodic_jobs.sql.
-- public.claim_periodic_job(): one run per interval, however many workers ask.
begin;
set local client_min_messages = warning;
select plan(7);

select tests.authenticate_as_service();
select is(public.claim_periodic_job('rescue', 'w1', interval '30 seconds'), true, 'a new job is due at once');
select is(
  public.claim_periodic_job('rescue', 'w2', interval '30 seconds'), false,
  'another worker cannot run the same run again'
);
select results_eq(
  $$select last_worker_id, next_run_at > clock_timestamp() + interval '29 seconds' from public.periodic_jobs$$,
  $$values ('w1'::text, true)$$,
  'the claim records who ran it and pushes the next run one interval on'
);
select tests.clear_authentication();
update public.periodic_jobs set next_run_at = now() - interval '1 second' where name = 'rescue';
select tests.authenticate_as_service();
select is(public.claim_periodic_job('rescue', 'w2', interval '30 seconds'), true, 'once due, the next run is claimed');
select throws_ok(
  $$select public.claim_periodic_job('rescue', 'w2', interval '0 seconds')$$, '22023', null,
  'a zero interval is refused'
);

select tests.clear_authentication();
select tests.create_user('alice@example.com') as alice \gset
select tests.authenticate_as(:'alice');
select throws_ok(
  $$select public.claim_periodic_job('rescue', 'me', interval '1 second')$$, '42501', null,
  'users cannot claim periodic jobs'
);
select throws_ok($$select from public.periodic_jobs$$, '42501', null, 'nor read them');

select * from finish();
rollback;
