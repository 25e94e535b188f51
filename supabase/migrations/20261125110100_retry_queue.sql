-- The retry queue: every operation that failed (or must run later) lands here, and `haven worker`
-- drains it. Users read their own rows; only the service writes, because the worker executes a
-- row's payload with service rights and a user-written row would be a privilege escalation.
-- The functions that move rows between states are in the next migration.

create table public.retry_queue (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  operation_type text not null
  constraint retry_queue_operation_type_not_blank check (btrim(operation_type) <> ''),
  payload jsonb not null
  constraint retry_queue_payload_is_object check (jsonb_typeof(payload) = 'object'),
  status text not null default 'pending'
  constraint retry_queue_status_valid check (status in ('pending', 'processing', 'resolved', 'failed')),
  attempts integer not null default 0
  constraint retry_queue_attempts_not_negative check (attempts >= 0),
  max_attempts integer not null default 5
  constraint retry_queue_max_attempts_positive check (max_attempts >= 1),
  last_error text,
  next_retry_at timestamptz not null default now(),
  worker_id text,
  claimed_at timestamptz,
  -- Refreshed by the claiming worker every few seconds; a stale one means the worker died.
  heartbeat_at timestamptz,
  reference_id uuid,
  reference_table text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  resolved_at timestamptz,
  constraint retry_queue_attempts_within_max check (attempts <= max_attempts),
  constraint retry_queue_processing_is_claimed check (
    status <> 'processing'
    or (worker_id is not null and claimed_at is not null and heartbeat_at is not null)
  ),
  constraint retry_queue_resolved_has_time check ((status = 'resolved') = (resolved_at is not null))
);

comment on table public.retry_queue is
'Operations waiting to run or to be retried (webhook registration, board sync, token refresh, '
'scheduled exports, email), drained by `haven worker`. Users read their own rows and call '
'retry_now(); every state change goes through the queue functions.';

comment on column public.retry_queue.heartbeat_at is
'Last sign of life of the claiming worker; rescue_stale_retry_items() reclaims rows whose '
'heartbeat is older than its timeout.';

-- The claim reads `status = 'pending' and next_retry_at <= now() order by next_retry_at limit n`.
-- The plan's pending index leads with user_id, so a claim across all users could not read it in
-- next_retry_at order and would sort every due row; this one is walked in order and stops after n
-- rows, so a claim costs the same with 10k or 1M rows waiting. Only pending rows are in it, so it
-- stays as small as the backlog.
create index retry_queue_due_idx
on public.retry_queue (next_retry_at)
where status = 'pending';

-- The error list (GET /api/errors): one user's rows of one status, newest first. Leads with
-- user_id, so it serves the foreign key too.
create index retry_queue_user_id_status_created_at_idx
on public.retry_queue (user_id, status, created_at desc);

-- The plan's worker, operation and reference indexes.
create index retry_queue_worker_idx
on public.retry_queue (worker_id, status)
where worker_id is not null;

create index retry_queue_operation_idx
on public.retry_queue (user_id, operation_type, status);

create index retry_queue_reference_idx
on public.retry_queue (reference_id, reference_table)
where reference_id is not null;

-- Rescue looks for in-flight rows with an old heartbeat; few rows are ever processing.
create index retry_queue_processing_heartbeat_idx
on public.retry_queue (heartbeat_at)
where status = 'processing';

create trigger retry_queue_set_updated_at
before update on public.retry_queue
for each row execute function public.update_updated_at_column();

alter table public.retry_queue enable row level security;

create policy retry_queue_select_own on public.retry_queue
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.retry_queue from anon, authenticated, service_role;
grant select on table public.retry_queue to authenticated;
grant select, insert, update, delete on table public.retry_queue to service_role;

create table public.retry_attempts (
  id bigint generated always as identity primary key,
  item_id uuid not null references public.retry_queue (id) on delete cascade,
  attempt integer not null
  constraint retry_attempts_attempt_positive check (attempt >= 1),
  worker_id text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text not null default 'running'
  constraint retry_attempts_outcome_valid check (outcome in ('running', 'succeeded', 'failed', 'lost')),
  error text,
  constraint retry_attempts_finished_unless_running check ((outcome = 'running') = (finished_at is null)),
  -- Leads with item_id, so it serves the foreign key too.
  constraint retry_attempts_item_attempt_key unique (item_id, attempt)
);

comment on table public.retry_attempts is
'One row per attempt at a retry_queue item: who ran it, when, how it ended and why it failed. '
'Users read the attempts of their own items.';

alter table public.retry_attempts enable row level security;

create policy retry_attempts_select_own on public.retry_attempts
for select to authenticated
using (
  exists (
    select from public.retry_queue as q
    where q.id = retry_attempts.item_id and q.user_id = (select auth.uid())
  )
);

revoke all on table public.retry_attempts from anon, authenticated, service_role;
grant select on table public.retry_attempts to authenticated;
grant select, insert, update, delete on table public.retry_attempts to service_role;

-- Identity columns need no sequence grant to insert; take back Supabase's default grants on it.
revoke all on sequence public.retry_attempts_id_seq from anon, authenticated, service_role;
