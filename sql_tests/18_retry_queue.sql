-- Tests supabase/schemas/18_retry_queue.sql.
-- The retry queue: every state transition, backoff bounds, privileges and RLS.
-- (SKIP LOCKED between two sessions needs two connections: tests/test_queue_sql.py.)
begin;
set local client_min_messages = warning;
select plan(73);

select has_table('public', 'retry_queue', 'public.retry_queue exists');
select has_table('public', 'retry_attempts', 'public.retry_attempts exists');
select is(
  pg_catalog.pg_get_indexdef('public.retry_queue_due_idx'::regclass),
  'CREATE INDEX retry_queue_due_idx ON public.retry_queue USING btree (next_retry_at) '
  || 'WHERE (status = ''pending''::text)',
  'pending rows are indexed in due order for the claim'
);
select policies_are(
  'public', 'retry_queue', array['retry_queue_select_own', 'retry_queue_update_own'],
  'users read their rows, and update them only as retry_now does (the guard)'
);
select policies_are('public', 'retry_attempts', array['retry_attempts_select_own'], 'users may only read');
select col_is_pk(
  'public', 'retry_attempts', array['item_id', 'attempt'], 'one outcome per attempt, whoever records it'
);
select is(
  pg_catalog.pg_get_indexdef('public.retry_queue_processing_idx'::regclass),
  'CREATE INDEX retry_queue_processing_idx ON public.retry_queue USING btree (worker_id) '
  || 'WHERE (status = ''processing''::text)',
  'only in-flight items are in the worker index (heartbeat_at in none: a heartbeat can be a HOT update)'
);
select is(
  pg_catalog.pg_get_indexdef('public.retry_queue_operation_idx'::regclass),
  'CREATE INDEX retry_queue_operation_idx ON public.retry_queue USING btree (user_id, operation_type, status) '
  || 'WHERE (status <> ''resolved''::text)',
  'a completion writes no entry in the operation index'
);
select is(
  (
    select array_agg(pg_catalog.pg_get_triggerdef(t.oid) order by t.tgname)
    from pg_catalog.pg_trigger as t
    where t.tgrelid = 'public.retry_queue'::regclass and not t.tgisinternal
  ),
  array[
    'CREATE TRIGGER retry_queue_guard_user_retry BEFORE UPDATE ON public.retry_queue FOR EACH ROW '
    || 'WHEN ((CURRENT_USER = ''authenticated''::name)) EXECUTE FUNCTION guard_user_retry()',
    'CREATE TRIGGER retry_queue_set_updated_at BEFORE UPDATE ON public.retry_queue FOR EACH ROW '
    || 'WHEN ((NOT (new.updated_at IS DISTINCT FROM old.updated_at))) EXECUTE FUNCTION update_updated_at_column()'
  ],
  'the service''s own transitions call no trigger function: users'' updates are guarded, updated_at always moves'
);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

-- queue_for_retry validates its arguments.
select tests.authenticate_as_service();
select throws_ok(
  format($$select public.queue_for_retry(%L, ' ', '{}')$$, :'alice'),
  '22023', 'queue_for_retry: p_operation_type must be a non-empty string',
  'a blank operation type is refused'
);
select throws_ok(
  format($$select public.queue_for_retry(%L, 'noop', '{}', p_max_attempts => 0)$$, :'alice'),
  '22023', 'queue_for_retry: p_max_attempts must be at least 1, not 0',
  'max_attempts below 1 is refused'
);
select throws_ok(
  format($$select public.queue_for_retry(%L, 'noop', '[1]')$$, :'alice'),
  '22023', 'queue_for_retry: p_payload must be a JSON object',
  'a payload that is not an object is refused'
);
select throws_ok(
  $$select public.queue_for_retry(gen_random_uuid(), 'noop', '{}')$$,
  'P0002', null, 'an unknown user is not_found'
);

-- Five due items of alice's, one of bob's, one not yet due.
select public.queue_for_retry(:'alice', 'noop', '{"n": 1}', 'first failure', p_max_attempts => 2) as a1 \gset
select public.queue_for_retry(:'alice', 'noop', '{"n": 2}', p_max_attempts => 1) as a2 \gset
select public.queue_for_retry(:'alice', 'noop', '{"n": 3}') as a3 \gset
select public.queue_for_retry(:'alice', 'noop', '{"n": 4}') as a4 \gset
select public.queue_for_retry(:'alice', 'noop', '{"n": 5}') as a5 \gset
select public.queue_for_retry(:'bob', 'noop', '{"n": 6}') as b1 \gset
select public.queue_for_retry(:'alice', 'later', '{}') as later \gset
select tests.clear_authentication();
-- Make the order of due items explicit, and one of them not due and one exhausted.
update public.retry_queue set next_retry_at = now() - interval '5 minutes' where id = :'a1';
update public.retry_queue set next_retry_at = now() - interval '4 minutes' where id = :'a2';
update public.retry_queue set next_retry_at = now() - interval '3 minutes' where id = :'a3';
update public.retry_queue set next_retry_at = now() - interval '2 minutes' where id = :'a4';
update public.retry_queue set next_retry_at = now() - interval '1 minute' where id = :'a5';
update public.retry_queue set next_retry_at = now() - interval '30 seconds' where id = :'b1';
update public.retry_queue set next_retry_at = now() + interval '1 hour' where id = :'later';
select public.queue_for_retry(:'bob', 'noop', '{}', p_max_attempts => 1) as exhausted \gset
update public.retry_queue set attempts = 1, next_retry_at = now() - interval '1 hour' where id = :'exhausted';

select tests.authenticate_as_service();
select is(
  array(select id from public.claim_retry_items('w1', 2)),
  array[:'a1', :'a2']::uuid[],
  'a claim returns at most p_limit items, oldest due first, skipping exhausted items'
);
select results_eq(
  format(
    $$select status, attempts, worker_id, claimed_at = now(), heartbeat_at = now()
      from public.retry_queue where id = %L$$, :'a1'
  ),
  $$values ('processing'::text, 1, 'w1'::text, true, true)$$,
  'a claimed item is processing, counted, owned by the worker and alive'
);
select is_empty(
  format($$select from public.retry_attempts where item_id = %L$$, :'a1'),
  'a claim writes no attempt row: the attempt in progress is the item''s claim'
);
select is(
  array(select id from public.claim_retry_items('w2', 10)),
  array[:'a3', :'a4', :'a5', :'b1']::uuid[],
  'the next claim takes what is left and due: not the future item, not the exhausted one'
);
select is((select count(*) from public.claim_retry_items('w3', 10)), 0::bigint, 'nothing is left to claim');
select throws_ok(
  $$select * from public.claim_retry_items('w1', 0)$$, '22023', null, 'a limit below 1 is refused'
);
select throws_ok(
  $$select * from public.claim_retry_items('', 5)$$, '22023', null, 'a blank worker id is refused'
);

-- complete: only the owner, only once.
select is(public.complete_retry_item(:'a3', 'w1'), false, 'another worker cannot complete an item');
select is(
  (select status from public.retry_queue where id = :'a3'), 'processing', 'and the item is unchanged'
);
select is(public.complete_retry_item(:'a3', 'w2'), true, 'the owner completes its item');
select results_eq(
  format($$select status, resolved_at = now(), heartbeat_at from public.retry_queue where id = %L$$, :'a3'),
  $$values ('resolved'::text, true, null::timestamptz)$$,
  'a completed item is resolved with its time'
);
select results_eq(
  format(
    $$select a.attempt, a.worker_id, a.outcome, a.started_at = q.claimed_at, a.finished_at = now(), a.error
      from public.retry_attempts as a inner join public.retry_queue as q on a.item_id = q.id
      where a.item_id = %L$$, :'a3'
  ),
  $$values (1, 'w2'::text, 'succeeded'::text, true, true, null::text)$$,
  'the completion records the succeeded attempt: who, from the claim until now'
);
select is(public.complete_retry_item(:'a3', 'w2'), false, 'a second completion changes nothing');
select is(
  (
    select array_agg(done order by done)
    from public.complete_retry_items('w2', array[:'a4', :'a1', :'a5']::uuid[]) as done
  ),
  (select array_agg(want order by want) from unnest(array[:'a4', :'a5']::uuid[]) as want),
  'a batch completion completes the worker''s items and reports which'
);

-- fail: backoff while attempts remain, failed at max or when not retryable.
select is(public.fail_retry_item(:'a1', 'w2', 'boom'), null, 'another worker cannot fail an item');
select is(public.fail_retry_item(:'a1', 'w1', 'HTTP 503 from provider'), 'pending', 'a retryable failure retries');
select results_eq(
  format(
    $$select status, last_error, worker_id,
        next_retry_at between now() + interval '24 seconds' and now() + interval '36 seconds'
      from public.retry_queue where id = %L$$, :'a1'
  ),
  $$values ('pending'::text, 'HTTP 503 from provider'::text, null::text, true)$$,
  'after attempt 1 the item is due in 30 s ± 20 %, unowned, with the error'
);
select results_eq(
  format($$select outcome, error, finished_at = now() from public.retry_attempts where item_id = %L$$, :'a1'),
  $$values ('failed'::text, 'HTTP 503 from provider'::text, true)$$,
  'the attempt records the failure and why'
);
update public.retry_queue set next_retry_at = now() - interval '1 second' where id = :'a1';
select is(
  array(select id from public.claim_retry_items('w1', 1)), array[:'a1']::uuid[], 'a due retry is claimed again'
);
select is(public.fail_retry_item(:'a1', 'w1', 'still 503'), 'failed', 'the last allowed attempt fails for good');
select results_eq(
  format($$select status, attempts, max_attempts, last_error from public.retry_queue where id = %L$$, :'a1'),
  $$values ('failed'::text, 2, 2, 'still 503'::text)$$,
  'a failed item keeps its attempts and last error'
);
select is(
  (select array_agg(outcome order by attempt) from public.retry_attempts where item_id = :'a1'),
  array['failed', 'failed'],
  'both attempts are in the history'
);
select is(
  public.fail_retry_item(:'b1', 'w2', 'invalid shop domain', p_retryable => false),
  'failed', 'a non-retryable failure fails at once'
);
select is(
  (select attempts < max_attempts from public.retry_queue where id = :'b1'), true, 'even with attempts left'
);

-- Backoff bounds: least(cap, base * 2^(n-1)) ± 20 %, and the jitter really spreads.
select is_empty(
  $$
    select n
    from generate_series(1, 25) as n
    cross join generate_series(1, 200) as sample
    cross join lateral (
      select least(21600, 30 * 2 ^ (n - 1)) as nominal,
        extract(epoch from public.retry_backoff(n + 0 * sample)) as delay
    ) as d
    group by n, d.nominal
    having min(d.delay) < 0.8 * d.nominal or max(d.delay) > 1.2 * d.nominal
      or min(d.delay) > 0.9 * d.nominal or max(d.delay) < 1.1 * d.nominal
  $$,
  'for attempts 1..25, every delay is within ±20 % of min(6 h, 30 s * 2^(n-1)) and spans the range'
);
select is(
  (
    select bool_and(extract(epoch from d.delay) between 1.6 and 2.4)
    from generate_series(1, 100) as sample
    cross join lateral (
      select public.retry_backoff(3 + 0 * sample, interval '1 second', interval '2 seconds') as delay
    ) as d
  ),
  true,
  'base and cap can be overridden per call'
);
select throws_ok(
  $$select public.retry_backoff(1, interval '0 seconds')$$, '22023', null, 'a zero base is refused'
);
select throws_ok(
  format($$select public.fail_retry_item(%L, 'w1', 'x', true, interval '-1 second')$$, :'a2'),
  '22023', null, 'fail_retry_item refuses a bad backoff'
);

-- Heartbeats, rescue and release.
select public.queue_for_retry(:'alice', 'noop', '{}', p_max_attempts => 3) as slow \gset
select public.queue_for_retry(:'alice', 'noop', '{}', p_max_attempts => 1) as doomed \gset
select public.queue_for_retry(:'alice', 'noop', '{}') as queued \gset
select count(*) as claimed_by_w4 from public.claim_retry_items('w4', 3) \gset
select tests.clear_authentication();
update public.retry_queue set heartbeat_at = now() - interval '10 minutes' where worker_id = 'w4';
select tests.authenticate_as_service();
select is(public.heartbeat_retry_items('w4'), 3, 'a heartbeat touches every item the worker holds');
select is(
  (select bool_and(heartbeat_at = now()) from public.retry_queue where worker_id = 'w4'), true,
  'and marks them alive'
);
select is(public.rescue_stale_retry_items(interval '1 minute'), 0, 'live items are not rescued');
select tests.clear_authentication();
update public.retry_queue set heartbeat_at = now() - interval '10 minutes' where id in (:'slow', :'doomed');
select tests.authenticate_as_service();
select is(public.rescue_stale_retry_items(interval '1 minute'), 2, 'items of a silent worker are rescued');
select results_eq(
  format(
    $$select status, worker_id, last_error from public.retry_queue where id = %L$$, :'slow'
  ),
  $$values ('pending'::text, null::text, 'worker lost: w4 stopped heart-beating mid-attempt'::text)$$,
  'a rescued item with attempts left is pending again, the loss recorded'
);
select results_eq(
  format($$select attempt, worker_id, outcome, error from public.retry_attempts where item_id = %L$$, :'slow'),
  $$values (1, 'w4'::text, 'lost'::text, 'worker lost: w4 stopped heart-beating mid-attempt'::text)$$,
  'the rescue writes the lost attempt the dead worker never wrote'
);
select is(
  (select status from public.retry_queue where id = :'doomed'), 'failed', 'a rescued item at max fails'
);
select throws_ok(
  $$select public.rescue_stale_retry_items(interval '0 seconds')$$, '22023', null, 'a zero timeout is refused'
);
select is(
  array(select public.release_retry_items('w4', array[:'queued']::uuid[])), array[:'queued']::uuid[],
  'a stopping worker releases an item it never started'
);
select results_eq(
  format($$select status, attempts, worker_id from public.retry_queue where id = %L$$, :'queued'),
  $$values ('pending'::text, 0, null::text)$$,
  'the release does not count the attempt'
);
select is_empty(
  format($$select from public.retry_attempts where item_id = %L$$, :'queued'), 'and leaves no attempt row'
);

-- retry_now, as the user.
select tests.authenticate_as(:'alice');
select results_eq(
  format($$select status, attempts, max_attempts, next_retry_at = now() from public.retry_now(%L)$$, :'doomed'),
  $$values ('pending'::text, 1, 2, true)$$,
  'a failed item at max_attempts gets exactly one more attempt, due now'
);
select results_eq(
  format($$select status, max_attempts, next_retry_at = now() from public.retry_now(%L)$$, :'later'),
  $$values ('pending'::text, 5, true)$$,
  'a pending item becomes due now'
);
select throws_ok(
  format($$select public.retry_now(%L)$$, :'a3'), '55000', null, 'a resolved item cannot be retried'
);
select throws_ok(
  format($$select public.retry_now(%L)$$, :'a2'), '55000', null, 'a processing item cannot be retried'
);
select throws_ok(
  format($$select public.retry_now(%L)$$, :'b1'), 'P0002', null, 'another user''s item is not found'
);
select throws_ok(
  $$select public.retry_now(gen_random_uuid())$$, 'P0002', null, 'an unknown item is not found'
);
-- The same bounds hold for a direct update (the Data API): the guard, the column grants, RLS.
select throws_ok(
  format($$update public.retry_queue set next_retry_at = now() - interval '1 year' where id = %L$$, :'later'),
  '42501', null, 'a user cannot jump the queue by dating an item back'
);
select throws_ok(
  format($$update public.retry_queue set status = 'resolved' where id = %L$$, :'later'),
  '42501', null, 'a user cannot resolve an item'
);
select throws_ok(
  format($$update public.retry_queue set payload = '{"evil": true}' where id = %L$$, :'later'),
  '42501', null, 'a user cannot touch a payload the worker runs with service rights'
);
select throws_ok(
  format($$update public.retry_queue set status = 'pending', next_retry_at = now() where id = %L$$, :'a2'),
  '55000', null, 'a processing item cannot be released by a user'
);
select is_empty(
  format($$update public.retry_queue set next_retry_at = now() where id = %L returning id$$, :'b1'),
  'another user''s item is not there to update (RLS)'
);
select is(
  public.retry_queue_counts(),
  '{"pending": 4, "processing": 1, "resolved": 3, "failed": 1}'::jsonb,
  'the caller''s counts, per status'
);

-- RLS: each user sees their own rows and attempts only.
select is(
  (select count(*) from public.retry_queue where user_id <> :'alice'), 0::bigint, 'alice sees none of bob''s items'
);
select is(
  (select count(*) from public.retry_attempts where item_id = :'b1'), 0::bigint, 'nor their attempts'
);
select tests.authenticate_as(:'bob');
select is(
  array(select id from public.retry_queue order by created_at), array[:'b1', :'exhausted']::uuid[],
  'bob sees exactly his items'
);
select is(
  public.retry_queue_counts(),
  '{"pending": 1, "processing": 0, "resolved": 0, "failed": 1}'::jsonb,
  'bob''s counts are his own'
);

-- Users cannot write the queue or call the service functions; anon can do nothing at all.
select is_empty(
  format(
    $$
      select statement, state
      from unnest(array[
        'insert into public.retry_queue (user_id, operation_type, payload) values (''%1$s'', ''x'', ''{}'')',
        'update public.retry_queue set status = ''pending''',
        'delete from public.retry_queue',
        'select public.queue_for_retry(''%1$s'', ''x'', ''{}'')',
        'select public.claim_retry_items(''me'', 10)',
        'select public.complete_retry_item(''%2$s'', ''w1'')',
        'select public.complete_retry_items(''w1'', array[''%2$s'']::uuid[])',
        'select public.fail_retry_item(''%2$s'', ''w1'', ''x'')',
        'select public.heartbeat_retry_items(''w1'')',
        'select public.release_retry_items(''w1'', array[''%2$s'']::uuid[])',
        'select public.rescue_stale_retry_items(interval ''1 minute'')',
        'select public.prune_retry_queue(interval ''1 day'')',
        'select public.retry_backoff(1)',
        'select public.claim_periodic_job(''x'', ''me'', interval ''1 minute'')'
      ]) as statement
      cross join lateral (select tests.sqlstate_of(statement) as state) as s
      where state is distinct from '42501'
    $$,
    :'bob', :'a2'
  ),
  'authenticated is denied every write and every service function'
);
select tests.authenticate_as_anon();
select is_empty(
  format(
    $$
      select statement, state
      from unnest(array[
        'select from public.retry_queue',
        'select from public.retry_attempts',
        'select public.retry_now(''%1$s'')',
        'select public.retry_queue_counts()',
        'select public.claim_retry_items(''me'', 10)'
      ]) as statement
      cross join lateral (select tests.sqlstate_of(statement) as state) as s
      where state is distinct from '42501'
    $$,
    :'a2'
  ),
  'anon is denied everything'
);

-- prune: resolved items older than the interval go, with their attempts; nothing else does.
select tests.clear_authentication();
update public.retry_queue set resolved_at = now() - interval '40 days' where id in (:'a3', :'a4');
select tests.authenticate_as_service();
select is(public.prune_retry_queue(interval '30 days'), 2, 'old resolved items are pruned');
select is_empty(
  format($$select from public.retry_attempts where item_id in (%L, %L)$$, :'a3', :'a4'),
  'with their attempts'
);
select is(
  (select count(*) from public.retry_queue where id in (:'a5', :'a1', :'b1')), 3::bigint,
  'recent resolved and failed items stay'
);

select * from finish();
rollback;
