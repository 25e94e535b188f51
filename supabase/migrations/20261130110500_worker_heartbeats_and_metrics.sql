-- Worker heartbeats (supabase/schemas/19_periodic_jobs.sql) and what /metrics reports
-- (ops.metrics(), supabase/schemas/70_operators.sql). New objects only.

-- Workers say they are alive every heartbeat interval, busy or not, so an operator (and
-- /metrics) can tell "no worker runs" from "nothing to do".
create table public.queue_workers (
  worker_id text primary key
  constraint queue_workers_worker_id_not_blank check (btrim(worker_id) <> ''),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);

comment on table public.queue_workers is
'Each running `haven worker`, with its last sign of life; a worker that stops cleanly removes its '
'row, one that dies leaves it to age. Written only through record_worker_alive() and '
'record_worker_stopped(); service only.';

alter table public.queue_workers enable row level security;

-- Users have no access at all; this policy says so (and no grant lets them reach the table).
create policy queue_workers_no_user_access on public.queue_workers
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.queue_workers from anon, authenticated, service_role;
grant select, insert, update, delete on table public.queue_workers to service_role;

create function public.record_worker_alive(p_worker_id text)
returns void
language sql
set search_path = ''
as $$
  insert into public.queue_workers as w (worker_id) values (p_worker_id)
  on conflict (worker_id) do update set heartbeat_at = pg_catalog.now();
  -- Rows of workers that died long ago say nothing any more.
  delete from public.queue_workers as w where w.heartbeat_at < pg_catalog.now() - interval '1 day';
$$;

comment on function public.record_worker_alive(text) is
'The worker p_worker_id is alive now (its row is created on the first call); rows silent for a '
'day are dropped. Every worker calls it each heartbeat interval. Service only.';

revoke all on function public.record_worker_alive(text) from public, anon, authenticated;
grant execute on function public.record_worker_alive(text) to service_role;

create function public.record_worker_stopped(p_worker_id text)
returns void
language sql
set search_path = ''
as $$
  delete from public.queue_workers as w where w.worker_id = p_worker_id;
$$;

comment on function public.record_worker_stopped(text) is
'The worker p_worker_id stopped cleanly: its row goes. Service only.';

revoke all on function public.record_worker_stopped(text) from public, anon, authenticated;
grant execute on function public.record_worker_stopped(text) to service_role;

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
