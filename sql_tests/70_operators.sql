-- Tests supabase/schemas/70_operators.sql.
-- The operators' functions: what each reports or changes across users, and that neither anon nor
-- authenticated may reach them (the Data API does not expose the schema either).
begin;
set local client_min_messages = warning;
select plan(18);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

-- Nobody but the service and the owner: not the schema, not a function.
select tests.authenticate_as(:'alice');
select is(tests.sqlstate_of('select * from ops.queue_overview()'), '42501', 'authenticated cannot use ops');
select tests.authenticate_as_anon();
select is(tests.sqlstate_of($$select ops.retry_failed('noop')$$), '42501', 'anon cannot use ops');
select tests.clear_authentication();
select is_empty(
  $$select p.oid::regprocedure::text, r.rolname
    from pg_catalog.pg_proc as p
    cross join pg_catalog.pg_roles as r
    where
      p.pronamespace = 'ops'::regnamespace
      and r.rolname in ('anon', 'authenticated', 'public')
      and pg_catalog.has_function_privilege(r.oid, p.oid, 'execute')$$,
  'no ops function is executable by anon or authenticated'
);

-- A queue across two users.
select tests.authenticate_as_service();
select public.queue_for_retry(:'alice', 'pinterest.sync_boards', '{}') as due_alice \gset
select public.queue_for_retry(:'bob', 'pinterest.sync_boards', '{}') as due_bob \gset
select public.queue_for_retry(:'bob', 'noop', '{}') as noop_bob \gset
update public.retry_queue set next_retry_at = now() - interval '5 minutes' where id = :'due_alice';
update public.retry_queue
set
  status = 'failed', attempts = max_attempts,
  last_error = 'pinterest: GET /boards refused (403) for item ' || id::text
where id = :'due_bob';
update public.retry_queue
set
  status = 'processing', worker_id = 'gone:1', claimed_at = now() - interval '10 minutes',
  heartbeat_at = now() - interval '10 minutes', attempts = 1
where id = :'noop_bob';

select results_eq(
  $$select operation_type, status, items from ops.queue_overview()$$,
  $$values ('noop', 'processing', 1::bigint), ('pinterest.sync_boards', 'failed', 1),
    ('pinterest.sync_boards', 'pending', 1)$$,
  'the overview counts every user''s items by operation and status'
);
select ok(
  (select oldest_due_age >= interval '5 minutes' from ops.queue_overview() where status = 'pending'),
  'it says how long the oldest due item has waited'
);
select results_eq(
  $$select id from ops.stuck_items()$$, array[:'noop_bob'::uuid],
  'an item whose worker stopped heart-beating is stuck'
);
select results_eq(
  $$select reason, items from ops.failure_reasons()$$,
  $$values ('pinterest: GET /boards refused (N) for item <id>', 1::bigint)$$,
  'failure reasons fold ids and numbers'
);

-- Bulk retry.
select throws_ok($$select ops.retry_failed(' ')$$, '22023', null, 'the operation must be named');
select is(ops.retry_failed('pinterest.sync_boards', p_error_like => '%timeout%'), 0, 'a pattern that matches none');
select is(ops.retry_failed('pinterest.sync_boards', p_failed_before => interval '1 day'), 0, 'too recent');
select is(ops.retry_failed('pinterest.sync_boards', '%refused (403)%'), 1, 'the matching failed item is retried');
select results_eq(
  format($$select status, max_attempts, next_retry_at <= now() from public.retry_queue where id = %L$$, :'due_bob'),
  $$values ('pending', 6, true)$$,
  'due now, with one more attempt than it had used'
);

-- Webhook replay: only a delivery that still holds its body, once.
insert into public.shopify_webhook_events (user_id, shop_domain, topic, webhook_id, payload, status, error)
values
(:'alice', 'a.myshopify.com', 'orders/create', 'wh-failed', '{"id": 1}', 'failed', 'bad'),
(:'alice', 'a.myshopify.com', 'orders/create', 'wh-done', null, 'processed', null);
select is(ops.replay_shopify_webhook('wh-failed'), 'queued', 'a failed delivery is queued again');
select is(ops.replay_shopify_webhook('wh-failed'), 'already queued', 'replaying twice queues once');
select results_eq(
  $$select webhook_id, outcome
    from ops.replay_shopify_webhooks('A.myshopify.com', now() - interval '1 hour', now() + interval '1 hour')$$,
  $$values ('wh-done', 'not replayed: its body was dropped when it was processed'), ('wh-failed', 'already queued')$$,
  'a range of one shop replays each delivery, saying what happened'
);

-- Integration health.
insert into public.integrations (user_id, provider, status, token_expires_at, connected_at)
values (:'alice', 'shopify', 'connected', now() + interval '1 hour', now());
insert into public.integrations (user_id, provider, status, last_error, last_error_at)
values (:'bob', 'pinterest', 'expired', 'Pinterest refused to refresh the access token', now());
select results_eq(
  $$select provider, problem from ops.integration_health() order by provider, problem$$,
  $$values ('pinterest', 'Pinterest refused to refresh the access token'), ('shopify', 'no webhook subscriptions'),
    ('shopify', 'token expires within 1 day')$$,
  'expiring tokens, refused refreshes and shops without subscriptions'
);

-- What /metrics reports.
select results_eq(
  $$select labels ->> 'status', value from ops.metrics()
    where metric = 'haven_queue_items' and labels ->> 'operation_type' = 'pinterest.sync_boards'
    order by 1$$,
  $$values ('pending', 2::double precision)$$,
  'queue items by operation and status (after the bulk retry, both syncs wait)'
);
select is(
  (select value from ops.metrics() where metric = 'haven_tokens_expiring_within_a_day'), 1::double precision,
  'tokens expiring within a day'
);

select * from finish();
rollback;
