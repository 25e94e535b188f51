-- Tests supabase/schemas/19_periodic_jobs.sql.
-- public.claim_periodic_job(): one run per interval, however many workers ask; workers' heartbeats.
begin;
set local client_min_messages = warning;
select plan(11);

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

-- Workers' heartbeats: created on the first call, refreshed after, gone on a clean stop.
select tests.clear_authentication();
select tests.create_user('nosy@example.com') as nosy \gset
select tests.authenticate_as_service();
select public.record_worker_alive('host:1:aa');
update public.queue_workers set heartbeat_at = now() - interval '1 hour' where worker_id = 'host:1:aa';
select public.record_worker_alive('host:1:aa');
select results_eq(
  $$select worker_id, heartbeat_at > now() - interval '1 minute' from public.queue_workers$$,
  $$values ('host:1:aa', true)$$,
  'a heartbeat refreshes the worker''s row'
);
insert into public.queue_workers (worker_id, heartbeat_at) values ('long-dead', now() - interval '2 days');
select public.record_worker_alive('host:2:bb');
select is(
  (select array_agg(worker_id order by worker_id) from public.queue_workers), array['host:1:aa', 'host:2:bb'],
  'workers silent for a day are dropped'
);
select public.record_worker_stopped('host:1:aa');
select is((select count(*) from public.queue_workers where worker_id = 'host:1:aa'), 0::bigint, 'a clean stop');
select tests.authenticate_as(:'nosy');
select is(tests.sqlstate_of($$select public.record_worker_alive('x')$$), '42501', 'users cannot pose as workers');

select * from finish();
rollback;
