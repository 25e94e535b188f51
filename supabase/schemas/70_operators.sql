-- The operators' surface: functions for psql and the Supabase SQL editor, in a schema the Data API
-- does not expose (supabase/config.toml lists public and graphql_public only), executable by
-- service_role and the migration owner only. Each reads or changes the queue and the inbox across
-- all users, which no user may do; docs/operators.md shows each as one types it.

create schema ops;

comment on schema ops is
'Operators'' functions (psql, the SQL editor): the queue across users, bulk retries, webhook '
'replay, integration health. Not exposed through the Data API; service_role and the owner only.';

revoke all on schema ops from public;
grant usage on schema ops to service_role;

create function ops.queue_overview()
returns table (
  operation_type text,
  status text,
  items bigint,
  oldest_created_at timestamptz,
  oldest_due_age interval
)
language sql
stable
set search_path = ''
as $$
  select
    q.operation_type,
    q.status,
    pg_catalog.count(*) as items,
    pg_catalog.min(q.created_at) as oldest_created_at,
    -- How long the oldest item that could run has waited for a worker: a growing age means no
    -- worker runs, or the workers cannot keep up.
    pg_catalog.now() - pg_catalog.min(q.next_retry_at) filter (
      where q.status = 'pending' and q.next_retry_at <= pg_catalog.now()
    ) as oldest_due_age
  from public.retry_queue as q
  group by q.operation_type, q.status
  order by q.operation_type, q.status
$$;

comment on function ops.queue_overview() is
'The queue across all users: items by operation and status, the oldest item''s creation, and for '
'pending items how long the oldest due one has waited. Operators only.';

revoke all on function ops.queue_overview() from public, anon, authenticated;
grant execute on function ops.queue_overview() to service_role;

create function ops.stuck_items(p_silent_for interval default interval '2 minutes')
returns table (
  id uuid,
  user_id uuid,
  operation_type text,
  worker_id text,
  attempts integer,
  claimed_at timestamptz,
  heartbeat_at timestamptz
)
language sql
stable
set search_path = ''
as $$
  select q.id, q.user_id, q.operation_type, q.worker_id, q.attempts, q.claimed_at, q.heartbeat_at
  from public.retry_queue as q
  where q.status = 'processing' and q.heartbeat_at < pg_catalog.now() - p_silent_for
  order by q.heartbeat_at
$$;

comment on function ops.stuck_items(interval) is
'Items in processing whose worker has not heart-beaten for p_silent_for: a dead worker''s, not yet '
'rescued (rescue runs in every worker; none running means none rescue). Operators only.';

revoke all on function ops.stuck_items(interval) from public, anon, authenticated;
grant execute on function ops.stuck_items(interval) to service_role;

create function ops.failure_reasons(p_since interval default interval '7 days')
returns table (operation_type text, reason text, items bigint, last_failed_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select
    q.operation_type,
    -- Ids and numbers folded, so one cause is one row whichever item or status it names.
    pg_catalog.regexp_replace(
      pg_catalog.regexp_replace(
        coalesce(q.last_error, '(no error recorded)'),
        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'gi'
      ),
      '[0-9]+', 'N', 'g'
    ) as reason,
    pg_catalog.count(*) as items,
    pg_catalog.max(q.updated_at) as last_failed_at
  from public.retry_queue as q
  where q.status = 'failed' and q.updated_at >= pg_catalog.now() - p_since
  group by 1, 2
  order by items desc, last_failed_at desc
$$;

comment on function ops.failure_reasons(interval) is
'Failed items of the last p_since grouped by operation and error, ids and numbers folded, most '
'frequent first. Operators only.';

revoke all on function ops.failure_reasons(interval) from public, anon, authenticated;
grant execute on function ops.failure_reasons(interval) to service_role;

create function ops.retry_failed(
  p_operation_type text,
  p_error_like text default null,
  p_failed_before interval default null
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  retried integer;
begin
  if p_operation_type is null or pg_catalog.btrim(p_operation_type) = '' then
    raise exception 'name the operation_type whose failed items to retry' using errcode = '22023';
  end if;
  -- What retry_now does for a user's one item: due now, one more attempt if they were used up.
  update public.retry_queue as q
  set
    status = 'pending',
    next_retry_at = pg_catalog.now(),
    max_attempts = greatest(q.max_attempts, q.attempts + 1),
    worker_id = null, claimed_at = null, heartbeat_at = null
  where
    q.status = 'failed'
    and q.operation_type = p_operation_type
    and (p_error_like is null or q.last_error ilike p_error_like)
    and (p_failed_before is null or q.updated_at <= pg_catalog.now() - p_failed_before);
  get diagnostics retried = row_count;
  if retried > 0 then
    perform pg_catalog.pg_notify('retry_queue', '');
  end if;
  return retried;
end
$$;

comment on function ops.retry_failed(text, text, interval) is
'Makes the failed items of one operation due now (optionally only those whose error matches an '
'ILIKE pattern, or that failed longer than an interval ago), each with one more attempt when it '
'had used them up. Returns how many. Operators only.';

revoke all on function ops.retry_failed(text, text, interval) from public, anon, authenticated;
grant execute on function ops.retry_failed(text, text, interval) to service_role;

create function ops.replay_shopify_webhook(p_webhook_id text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  event public.shopify_webhook_events;
begin
  select e.* into event
  from public.shopify_webhook_events as e
  where e.webhook_id = p_webhook_id
  for update;
  if not found then
    raise exception 'no stored Shopify delivery with webhook id %', p_webhook_id using errcode = 'P0002';
  end if;
  if event.user_id is null then
    return 'not replayed: no account held the shop when it arrived';
  end if;
  -- Processing drops a body once it is applied (the inbox keeps no customer data it no longer
  -- needs); only a delivery that still holds its body (waiting or failed) can run again.
  if event.payload is null then
    return 'not replayed: its body was dropped when it was ' || event.status;
  end if;
  if exists (
    select from public.retry_queue as q
    where
      q.reference_id = event.id
      and q.reference_table = 'shopify_webhook_events'
      and q.status in ('pending', 'processing')
  ) then
    return 'already queued';
  end if;
  update public.shopify_webhook_events as e
  set status = 'received', error = null, processed_at = null
  where e.id = event.id;
  -- The same item the intake queues, so the same handler applies it, idempotently.
  perform public.queue_for_retry(
    event.user_id, 'shopify.process_webhook', pg_catalog.jsonb_build_object('event_id', event.id),
    p_reference_id => event.id, p_reference_table => 'shopify_webhook_events'
  );
  return 'queued';
end
$$;

comment on function ops.replay_shopify_webhook(text) is
'Runs a stored Shopify delivery through its handler again (queued, as at intake): a failed or '
'waiting one that still holds its body. Returns queued, already queued, or why it was not '
'replayed. Operators only.';

revoke all on function ops.replay_shopify_webhook(text) from public, anon, authenticated;
grant execute on function ops.replay_shopify_webhook(text) to service_role;

create function ops.replay_shopify_webhooks(p_shop_domain text, p_from timestamptz, p_to timestamptz)
returns table (webhook_id text, outcome text)
language sql
set search_path = ''
as $$
  select e.webhook_id, ops.replay_shopify_webhook(e.webhook_id) as outcome
  from public.shopify_webhook_events as e
  where
    e.shop_domain = pg_catalog.lower(p_shop_domain)
    and e.received_at >= p_from
    and e.received_at < p_to
  order by e.received_at, e.webhook_id
$$;

comment on function ops.replay_shopify_webhooks(text, timestamptz, timestamptz) is
'ops.replay_shopify_webhook() for every delivery of one shop received in [p_from, p_to), oldest '
'first, with each outcome. Operators only.';

revoke all on function ops.replay_shopify_webhooks(text, timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function ops.replay_shopify_webhooks(text, timestamptz, timestamptz) to service_role;

create function ops.integration_health(p_expiring_within interval default interval '1 day')
returns table (user_id uuid, provider text, status text, problem text, since timestamptz)
language sql
stable
set search_path = ''
as $$
  select i.user_id, i.provider, i.status, 'token expires within ' || p_expiring_within::text, i.token_expires_at
  from public.integrations as i
  where i.status = 'connected' and i.token_expires_at < pg_catalog.now() + p_expiring_within
  union all
  select i.user_id, i.provider, i.status, coalesce(i.last_error, 'an error, unrecorded'), i.last_error_at
  from public.integrations as i
  where i.status in ('error', 'expired')
  union all
  -- A connected shop with no subscription sends nothing: registration never ran, or failed.
  select i.user_id, i.provider, i.status, 'no webhook subscriptions', i.connected_at
  from public.integrations as i
  where
    i.provider = 'shopify'
    and i.status = 'connected'
    and not exists (select from public.shopify_webhooks as w where w.user_id = i.user_id)
  order by 5 nulls first
$$;

comment on function ops.integration_health(interval) is
'Integrations that need someone: connected tokens expiring within p_expiring_within, connections '
'in error or expired (refresh refused) with their last error, connected shops without webhook '
'subscriptions. Operators only.';

revoke all on function ops.integration_health(interval) from public, anon, authenticated;
grant execute on function ops.integration_health(interval) to service_role;

create function ops.metrics()
returns table (metric text, labels jsonb, value double precision)
language sql
stable
set search_path = ''
as $$
  select 'haven_queue_items', pg_catalog.jsonb_build_object('operation_type', q.operation_type, 'status', q.status),
    pg_catalog.count(*)::double precision
  from public.retry_queue as q
  group by q.operation_type, q.status
  union all
  select 'haven_queue_oldest_due_seconds', '{}'::jsonb,
    coalesce(extract(epoch from pg_catalog.now() - pg_catalog.min(q.next_retry_at)), 0)::double precision
  from public.retry_queue as q
  where q.status = 'pending' and q.next_retry_at <= pg_catalog.now()
  union all
  select 'haven_queue_attempts', pg_catalog.jsonb_build_object('operation_type', q.operation_type, 'outcome', a.outcome),
    pg_catalog.count(*)::double precision
  from public.retry_attempts as a
  inner join public.retry_queue as q on a.item_id = q.id
  group by q.operation_type, a.outcome
  union all
  select 'haven_webhook_deliveries', pg_catalog.jsonb_build_object('status', e.status),
    pg_catalog.count(*)::double precision
  from public.shopify_webhook_events as e
  group by e.status
  union all
  select 'haven_webhook_inbox_lag_seconds', '{}'::jsonb,
    coalesce(extract(epoch from pg_catalog.now() - pg_catalog.min(e.received_at)), 0)::double precision
  from public.shopify_webhook_events as e
  where e.status = 'received'
  union all
  select 'haven_tokens_expiring_within_a_day', pg_catalog.jsonb_build_object('provider', i.provider),
    pg_catalog.count(*)::double precision
  from public.integrations as i
  where i.status = 'connected' and i.token_expires_at < pg_catalog.now() + interval '1 day'
  group by i.provider
  union all
  select 'haven_worker_heartbeat_age_seconds', pg_catalog.jsonb_build_object('worker_id', w.worker_id),
    extract(epoch from pg_catalog.now() - w.heartbeat_at)::double precision
  from public.queue_workers as w
  union all
  select 'haven_periodic_job_last_run_age_seconds', pg_catalog.jsonb_build_object('job', j.name),
    extract(epoch from pg_catalog.now() - j.last_started_at)::double precision
  from public.periodic_jobs as j
  where j.last_started_at is not null
  union all
  select 'haven_exports_last_day', pg_catalog.jsonb_build_object('export_type', h.export_type, 'status', h.status),
    pg_catalog.count(*)::double precision
  from public.export_history as h
  where h.created_at >= pg_catalog.now() - interval '1 day'
  group by h.export_type, h.status
  union all
  select 'haven_export_rows_last_day', pg_catalog.jsonb_build_object('export_type', h.export_type),
    coalesce(pg_catalog.sum(h.record_count), 0)::double precision
  from public.export_history as h
  where h.created_at >= pg_catalog.now() - interval '1 day' and h.status = 'completed'
  group by h.export_type
  union all
  select 'haven_export_seconds_last_day', pg_catalog.jsonb_build_object('quantile', quantile::text),
    coalesce(
      pg_catalog.percentile_cont(quantile) within group (order by extract(epoch from h.finished_at - h.created_at)),
      0
    )::double precision
  from public.export_history as h, unnest(array[0.5, 0.95, 1.0]) as quantile
  where h.created_at >= pg_catalog.now() - interval '1 day' and h.status = 'completed'
  group by quantile
$$;

comment on function ops.metrics() is
'What GET /metrics reports, one row per sample (Prometheus metric name, labels, value): queue '
'items by operation and status, the oldest due item''s age, attempts by operation and outcome, '
'webhook deliveries by status and the inbox lag, tokens expiring within a day, each worker''s '
'heartbeat age, each periodic job''s last run, and the last day''s exports (by type and status, '
'rows, durations). One statement, read by service_role. Operators only.';

revoke all on function ops.metrics() from public, anon, authenticated;
grant execute on function ops.metrics() to service_role;
