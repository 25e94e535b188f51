-- The retry queue: every operation that failed (or must run later) lands here, and `haven worker`
-- drains it. Users read their own rows; only the service writes them, because the worker executes a
-- row's payload with service rights and a user-written row would be a privilege escalation. The
-- one change a user may make is retry_now's: their pending or failed item due now.
--
-- The queue's state machine. Every transition is one function:
--
--   queue_for_retry ─> pending ──claim──> processing ──complete──> resolved
--                        ^                  │  │
--                        └──fail (backoff)──┘  └──fail at max / not retryable──> failed
--                        └──rescue (heartbeat lost) / release (shutdown)
--   retry_now: failed or pending ──> pending, due now (the user's button)
--
-- The worker functions are service only (SECURITY INVOKER: service_role holds the table grants);
-- a late answer from a worker that no longer owns a row changes nothing and says so.
--
-- What a drained item costs (bench/queue.py, docs/queue.md): three rows written — the claim
-- updates the item (the attempt in progress lives on it: worker_id, claimed_at, heartbeat_at),
-- and the completion updates it again and inserts the finished attempt in the same statement —
-- and seven index entries. An attempt whose worker died is written by the rescue, so the history
-- stays complete. No trigger function runs for the service's own transitions.

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

-- The plan's operation index, without resolved items: they are most rows and no query looks
-- an operation's resolved items up (the operators' overview groups the whole table), and a
-- completion then writes no entry here.
create index retry_queue_operation_idx
on public.retry_queue (user_id, operation_type, status)
where status <> 'resolved';

create index retry_queue_reference_idx
on public.retry_queue (reference_id, reference_table)
where reference_id is not null;

-- The plan's worker index, for in-flight items only: a worker's heartbeat and completion find
-- its items here, and rescue reads all of it (few rows are ever processing) for old heartbeats.
-- heartbeat_at is in no index, so a heartbeat can be a HOT update (no index entries).
create index retry_queue_processing_idx
on public.retry_queue (worker_id)
where status = 'processing';

-- The queue's functions set updated_at themselves (no trigger function per drained row); any
-- other update that leaves it unchanged gets it from the trigger.
create trigger retry_queue_set_updated_at
before update on public.retry_queue
for each row
when (new.updated_at is not distinct from old.updated_at)
execute function public.update_updated_at_column();

alter table public.retry_queue enable row level security;

create policy retry_queue_select_own on public.retry_queue
for select to authenticated
using (user_id = (select auth.uid()));

-- Users may make one change, on their own rows: a pending or failed item due now (retry_now(),
-- or the same update through the Data API). The columns it touches are theirs to update, and
-- guard_user_retry() below refuses any other change.
create policy retry_queue_update_own on public.retry_queue
for update to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

revoke all on table public.retry_queue from anon, authenticated, service_role;
grant select on table public.retry_queue to authenticated;
grant update (
  status, next_retry_at, max_attempts, worker_id, claimed_at, heartbeat_at
) on table public.retry_queue to authenticated;
grant select, insert, update, delete on table public.retry_queue to service_role;

create function public.guard_user_retry()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- The worker (service_role) and the owner move items through every state; a user only this.
  if current_user <> 'authenticated' then
    return new;
  end if;
  if old.status not in ('pending', 'failed') then
    raise exception 'retry item % is %, only a pending or failed item can be retried', old.id, old.status
      using errcode = '55000';
  end if;
  if
    new.status <> 'pending'
    or new.next_retry_at <> pg_catalog.now()
    or new.max_attempts <> greatest(old.max_attempts, old.attempts + 1)
    or new.worker_id is not null
    or new.claimed_at is not null
    or new.heartbeat_at is not null
  then
    raise exception 'a user may only make their own pending or failed item due now (retry_now)'
      using errcode = '42501';
  end if;
  return new;
end
$$;

comment on function public.guard_user_retry() is
'BEFORE UPDATE trigger on retry_queue: an update by a signed-in user (not the service) may only '
'make a pending or failed item due now, with one more attempt if it used them up, and release it '
'(what retry_now() does). 55000: the item is processing or resolved; 42501: any other change.';

revoke all on function public.guard_user_retry() from public, anon, authenticated, service_role;

-- Only a signed-in user's update is checked: the service's own transitions call no function.
create trigger retry_queue_guard_user_retry
before update on public.retry_queue
for each row
when (current_user = 'authenticated')
execute function public.guard_user_retry();

-- One row per finished attempt, written by the statement that ends it (complete, fail, rescue);
-- the attempt in progress is the item's own claim (worker_id, claimed_at, attempts).
create table public.retry_attempts (
  item_id uuid not null references public.retry_queue (id) on delete cascade,
  attempt integer not null
  constraint retry_attempts_attempt_positive check (attempt >= 1),
  worker_id text not null,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  outcome text not null
  constraint retry_attempts_outcome_valid check (outcome in ('succeeded', 'failed', 'lost')),
  error text,
  -- One outcome per attempt, whoever records it. Leads with item_id: it serves the foreign key.
  constraint retry_attempts_pkey primary key (item_id, attempt)
);

comment on table public.retry_attempts is
'One row per finished attempt at a retry_queue item: who ran it, when, how it ended (succeeded, '
'failed, lost with its worker) and why it failed. The attempt in progress is on the item '
'(worker_id, claimed_at). Users read the attempts of their own items.';

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

create function public.retry_backoff(
  p_attempts integer,
  p_base interval default interval '30 seconds',
  p_cap interval default interval '6 hours'
)
returns interval
language plpgsql
volatile
set search_path = ''
as $$
declare
  nominal_seconds double precision;
begin
  if p_base is null or p_base <= interval '0' then
    raise exception 'retry_backoff: p_base must be a positive interval' using errcode = '22023';
  end if;
  if p_cap is null or p_cap < p_base then
    raise exception 'retry_backoff: p_cap must be at least p_base' using errcode = '22023';
  end if;
  -- least() before the power would overflow: 2^62 seconds is beyond any sane cap anyway.
  nominal_seconds := least(
    extract(epoch from p_cap)::double precision,
    extract(epoch from p_base)::double precision
    * pg_catalog.power(2::double precision, least(greatest(p_attempts, 1) - 1, 62))
  );
  -- ±20 % jitter around the capped exponential delay, so items that failed together
  -- (a provider outage) do not all come back in the same second.
  return pg_catalog.make_interval(secs => nominal_seconds * (0.8 + 0.4 * pg_catalog.random()));
end
$$;

comment on function public.retry_backoff(integer, interval, interval) is
'Delay before the next try after attempt n: least(cap, base * 2^(n-1)), times a uniform jitter '
'in [0.8, 1.2]. Defaults base 30 s, cap 6 h. 22023 when base <= 0 or cap < base.';

revoke all on function public.retry_backoff(integer, interval, interval) from public, anon, authenticated;
grant execute on function public.retry_backoff(integer, interval, interval) to service_role;

create function public.queue_for_retry(
  p_user_id uuid,
  p_operation_type text,
  p_payload jsonb,
  p_error text default null,
  p_reference_id uuid default null,
  p_reference_table text default null,
  p_max_attempts integer default 5
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  new_id uuid;
begin
  if p_user_id is null then
    raise exception 'queue_for_retry: p_user_id is required' using errcode = '22023';
  end if;
  if p_operation_type is null or pg_catalog.btrim(p_operation_type) = '' then
    raise exception 'queue_for_retry: p_operation_type must be a non-empty string' using errcode = '22023';
  end if;
  if p_payload is null or pg_catalog.jsonb_typeof(p_payload) <> 'object' then
    raise exception 'queue_for_retry: p_payload must be a JSON object' using errcode = '22023';
  end if;
  if p_max_attempts is null or p_max_attempts < 1 then
    raise exception 'queue_for_retry: p_max_attempts must be at least 1, not %', p_max_attempts
      using errcode = '22023';
  end if;

  insert into public.retry_queue (
    user_id, operation_type, payload, last_error, reference_id, reference_table, max_attempts
  )
  values (
    p_user_id, p_operation_type, p_payload, pg_catalog.left(p_error, 2000),
    p_reference_id, p_reference_table, p_max_attempts
  )
  returning id into new_id;

  -- Delivered at commit; identical notifications of one transaction are folded into one.
  perform pg_catalog.pg_notify('retry_queue', '');
  return new_id;
exception
  -- The caller (service_role) cannot read auth.users; the foreign key can.
  when foreign_key_violation then
    raise exception 'queue_for_retry: user % not found', p_user_id using errcode = 'P0002';
end
$$;

comment on function public.queue_for_retry(uuid, text, jsonb, text, uuid, text, integer) is
'Queues an operation for the worker (due now) and wakes idle workers with NOTIFY retry_queue. '
'Service only. Returns the item id. 22023: bad argument; P0002: unknown user.';

revoke all on function public.queue_for_retry(uuid, text, jsonb, text, uuid, text, integer)
from public, anon, authenticated;
grant execute on function public.queue_for_retry(uuid, text, jsonb, text, uuid, text, integer) to service_role;

create function public.claim_retry_items(p_worker_id text, p_limit integer default 10)
returns setof public.retry_queue
language plpgsql
set search_path = ''
as $$
begin
  if p_worker_id is null or pg_catalog.btrim(p_worker_id) = '' then
    raise exception 'claim_retry_items: p_worker_id must be a non-empty string' using errcode = '22023';
  end if;
  if p_limit is null or p_limit < 1 then
    raise exception 'claim_retry_items: p_limit must be at least 1, not %', p_limit using errcode = '22023';
  end if;

  -- One statement: pick the oldest due rows nobody else holds (SKIP LOCKED, so concurrent
  -- workers take disjoint batches without waiting) and mark them ours. The attempt is recorded
  -- on the item; its retry_attempts row is written when it ends.
  return query
  with due as (
    select q.ctid
    from public.retry_queue as q
    where
      q.status = 'pending'
      and q.next_retry_at <= pg_catalog.now()
      and q.attempts < q.max_attempts
    order by q.next_retry_at
    limit p_limit
    -- The lock the UPDATE below takes anyway; FOR UPDATE would also block foreign-key checks.
    for no key update skip locked
  ),

  claimed as (
    update public.retry_queue as q
    set
      status = 'processing',
      worker_id = p_worker_id,
      claimed_at = pg_catalog.now(),
      heartbeat_at = pg_catalog.now(),
      attempts = q.attempts + 1,
      updated_at = pg_catalog.now()
    -- The locked rows by their place in the table (a TID scan): no index lookup, whatever the
    -- table's size (joined to the CTE by id, the planner hashed a scan of the whole table). A row
    -- locked above cannot move before this update; one a concurrent transaction changed after
    -- this statement's snapshot is not seen here and stays pending, unclaimed.
    where q.ctid = any(array(select due.ctid from due))
    returning q.*
  )

  select c.* from claimed as c
  order by c.next_retry_at;
end
$$;

comment on function public.claim_retry_items(text, integer) is
'Claims up to p_limit due pending items (oldest due first, attempts below max_attempts) for a '
'worker: status processing, attempts + 1, the claim (worker, time, heartbeat) on the item. '
'Concurrent claims never share a row (FOR UPDATE SKIP LOCKED). Service only.';

revoke all on function public.claim_retry_items(text, integer) from public, anon, authenticated;
grant execute on function public.claim_retry_items(text, integer) to service_role;

create function public.complete_retry_items(p_worker_id text, p_ids uuid[])
returns setof uuid
language plpgsql
set search_path = ''
as $$
declare
  stale_count integer;
begin
  return query
  with done as (
    update public.retry_queue as q
    set
      status = 'resolved', resolved_at = pg_catalog.now(), heartbeat_at = null,
      updated_at = pg_catalog.now()
    where q.id = any(p_ids) and q.worker_id = p_worker_id and q.status = 'processing'
    returning q.id, q.attempts, q.claimed_at
  ),

  recorded as (
    insert into public.retry_attempts (item_id, attempt, worker_id, started_at, finished_at, outcome)
    select done.id, done.attempts, p_worker_id, done.claimed_at, pg_catalog.now(), 'succeeded'
    from done
  )

  select done.id from done;

  get diagnostics stale_count = row_count;
  stale_count := pg_catalog.cardinality(p_ids) - stale_count;
  if stale_count > 0 then
    raise notice 'complete_retry_items: % item(s) not completed: no longer processing by worker %',
      stale_count, p_worker_id;
  end if;
end
$$;

comment on function public.complete_retry_items(text, uuid[]) is
'Marks the worker''s processing items resolved and records their succeeded attempts, in one '
'statement. '
'Returns the ids it completed; an id missing from the result was not this worker''s any more '
'(rescued, released or already done) and was left unchanged (a NOTICE says how many). Service only.';

revoke all on function public.complete_retry_items(text, uuid[]) from public, anon, authenticated;
grant execute on function public.complete_retry_items(text, uuid[]) to service_role;

create function public.complete_retry_item(p_id uuid, p_worker_id text)
returns boolean
language sql
set search_path = ''
as $$
  select exists (select from public.complete_retry_items(p_worker_id, array[p_id]))
$$;

comment on function public.complete_retry_item(uuid, text) is
'Marks one processing item of this worker resolved. True when it did; false (and a NOTICE) when '
'the item was not this worker''s any more, in which case nothing changed. Service only.';

revoke all on function public.complete_retry_item(uuid, text) from public, anon, authenticated;
grant execute on function public.complete_retry_item(uuid, text) to service_role;

create function public.fail_retry_item(
  p_id uuid,
  p_worker_id text,
  p_error text,
  p_retryable boolean default true,
  p_backoff_base interval default interval '30 seconds',
  p_backoff_cap interval default interval '6 hours'
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  item public.retry_queue;
  error_text text := pg_catalog.left(coalesce(nullif(pg_catalog.btrim(p_error), ''), 'unknown error'), 2000);
  delay interval;
begin
  select q.* into item
  from public.retry_queue as q
  where q.id = p_id and q.worker_id = p_worker_id and q.status = 'processing'
  for update;
  if not found then
    raise notice 'fail_retry_item: item % is no longer processing by worker %; nothing changed',
      p_id, p_worker_id;
    return null;
  end if;
  -- Validated even when the item fails for good, so a bad argument never goes unnoticed.
  delay := public.retry_backoff(item.attempts, p_backoff_base, p_backoff_cap);

  insert into public.retry_attempts (item_id, attempt, worker_id, started_at, finished_at, outcome, error)
  values (item.id, item.attempts, p_worker_id, item.claimed_at, pg_catalog.now(), 'failed', error_text);

  if coalesce(p_retryable, true) and item.attempts < item.max_attempts then
    update public.retry_queue as q
    set
      status = 'pending', last_error = error_text, next_retry_at = pg_catalog.now() + delay,
      worker_id = null, claimed_at = null, heartbeat_at = null, updated_at = pg_catalog.now()
    where q.id = item.id;
    return 'pending';
  end if;
  update public.retry_queue as q
  set status = 'failed', last_error = error_text, heartbeat_at = null, updated_at = pg_catalog.now()
  where q.id = item.id;
  return 'failed';
end
$$;

comment on function public.fail_retry_item(uuid, text, text, boolean, interval, interval) is
'Records a failed attempt of the worker''s processing item. Back to pending after '
'retry_backoff(attempts, base, cap) while attempts < max_attempts and the error is retryable, '
'else failed. Returns the new status, or null (and a NOTICE) when the item was not this worker''s '
'any more, in which case nothing changed. Error text is cut to 2000 characters. Service only.';

revoke all on function public.fail_retry_item(uuid, text, text, boolean, interval, interval)
from public, anon, authenticated;
grant execute on function public.fail_retry_item(uuid, text, text, boolean, interval, interval) to service_role;

create function public.heartbeat_retry_items(p_worker_id text)
returns integer
language sql
set search_path = ''
as $$
  with alive as (
    update public.retry_queue as q
    set heartbeat_at = pg_catalog.now(), updated_at = pg_catalog.now()
    where q.worker_id = p_worker_id and q.status = 'processing'
    returning 1
  )

  select pg_catalog.count(*)::integer from alive
$$;

comment on function public.heartbeat_retry_items(text) is
'Marks every processing item of this worker alive (heartbeat_at = now()); returns how many. '
'The worker calls it every few seconds so a slow handler is not taken for a dead one. Service only.';

revoke all on function public.heartbeat_retry_items(text) from public, anon, authenticated;
grant execute on function public.heartbeat_retry_items(text) to service_role;

create function public.release_retry_items(p_worker_id text, p_ids uuid[])
returns setof uuid
language sql
set search_path = ''
as $$
  with released as (
    update public.retry_queue as q
    set
      status = 'pending', attempts = q.attempts - 1, next_retry_at = pg_catalog.now(),
      worker_id = null, claimed_at = null, heartbeat_at = null, updated_at = pg_catalog.now()
    where q.id = any(p_ids) and q.worker_id = p_worker_id and q.status = 'processing'
    returning q.id
  )

  select released.id from released
$$;

comment on function public.release_retry_items(text, uuid[]) is
'Gives back claimed items a stopping worker never started: pending and due now, the attempt '
'uncounted (it never ran, so it has no attempt row). Returns the ids released. Service only.';

revoke all on function public.release_retry_items(text, uuid[]) from public, anon, authenticated;
grant execute on function public.release_retry_items(text, uuid[]) to service_role;

create function public.rescue_stale_retry_items(
  p_timeout interval,
  p_backoff_base interval default interval '30 seconds',
  p_backoff_cap interval default interval '6 hours'
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  rescued integer;
begin
  if p_timeout is null or p_timeout <= interval '0' then
    raise exception 'rescue_stale_retry_items: p_timeout must be a positive interval' using errcode = '22023';
  end if;

  with stale as (
    select q.id, q.worker_id, q.claimed_at
    from public.retry_queue as q
    where q.status = 'processing' and q.heartbeat_at < pg_catalog.now() - p_timeout
    -- A live worker completing a row right now holds its lock: skip it, it is not lost.
    for update skip locked
  ),

  lost as (
    update public.retry_queue as q
    set
      status = case when q.attempts >= q.max_attempts then 'failed' else 'pending' end,
      last_error = 'worker lost: ' || q.worker_id || ' stopped heart-beating mid-attempt',
      -- Backoff, not now: a payload that kills its worker must not crash-loop the fleet.
      next_retry_at = pg_catalog.now() + public.retry_backoff(q.attempts, p_backoff_base, p_backoff_cap),
      worker_id = case when q.attempts >= q.max_attempts then q.worker_id end,
      claimed_at = case when q.attempts >= q.max_attempts then q.claimed_at end,
      heartbeat_at = null,
      updated_at = pg_catalog.now()
    from stale
    where q.id = stale.id
    -- The claim as it was (an UPDATE's FROM list sees the row before the update).
    returning q.id, q.attempts, q.last_error, stale.worker_id, stale.claimed_at
  ),

  -- The dead worker never wrote its attempt: the rescue does, so the history stays complete.
  recorded as (
    insert into public.retry_attempts (item_id, attempt, worker_id, started_at, finished_at, outcome, error)
    select lost.id, lost.attempts, lost.worker_id, lost.claimed_at, pg_catalog.now(), 'lost', lost.last_error
    from lost
  )

  select pg_catalog.count(*)::integer into rescued from lost;

  if rescued > 0 then
    perform pg_catalog.pg_notify('retry_queue', '');
  end if;
  return rescued;
end
$$;

comment on function public.rescue_stale_retry_items(interval, interval, interval) is
'Processing items whose heartbeat is older than p_timeout (their worker died) count a lost '
'attempt ("worker lost", recorded in retry_attempts with the dead worker and its claim time) and '
'go back to pending after the usual backoff, or to failed at max_attempts. Returns how many. '
'Service only; the worker runs it as a periodic job.';

revoke all on function public.rescue_stale_retry_items(interval, interval, interval)
from public, anon, authenticated;
grant execute on function public.rescue_stale_retry_items(interval, interval, interval) to service_role;

create function public.retry_now(p_id uuid)
returns public.retry_queue
language plpgsql
-- SECURITY INVOKER: the caller's own row only (RLS), and only this change (guard_user_retry()).
set search_path = ''
as $$
declare
  item public.retry_queue;
begin
  select q.* into item
  from public.retry_queue as q
  where q.id = p_id and q.user_id = (select auth.uid())
  for update;
  if not found then
    raise exception 'retry item % not found', p_id using errcode = 'P0002';
  end if;
  if item.status not in ('pending', 'failed') then
    raise exception 'retry item % is %, only a pending or failed item can be retried', p_id, item.status
      using errcode = '55000';
  end if;

  update public.retry_queue as q
  set
    status = 'pending',
    next_retry_at = pg_catalog.now(),
    -- An item that used up its attempts gets exactly one more.
    max_attempts = greatest(q.max_attempts, q.attempts + 1),
    worker_id = null, claimed_at = null, heartbeat_at = null
  where q.id = item.id
  returning q.* into item;

  perform pg_catalog.pg_notify('retry_queue', '');
  return item;
end
$$;

comment on function public.retry_now(uuid) is
'The caller''s pending or failed item becomes due now; a failed item at max_attempts gets one more '
'attempt. Returns the item. P0002: no such item of the caller''s; 55000: it is processing or '
'resolved. For signed-in users (SECURITY INVOKER: RLS and guard_user_retry() bound it).';

revoke all on function public.retry_now(uuid) from public, anon, authenticated;
grant execute on function public.retry_now(uuid) to authenticated;

create function public.retry_queue_counts()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select '{"pending": 0, "processing": 0, "resolved": 0, "failed": 0}'::jsonb
    || coalesce(pg_catalog.jsonb_object_agg(per_status.status, per_status.n), '{}'::jsonb)
  from (
    select q.status, pg_catalog.count(*) as n
    from public.retry_queue as q
    where q.user_id = (select auth.uid())
    group by q.status
  ) as per_status
$$;

comment on function public.retry_queue_counts() is
'The caller''s items per status, every status present: {"pending": n, "processing": n, '
'"resolved": n, "failed": n}. One GROUP BY over the caller''s rows. For signed-in users.';

revoke all on function public.retry_queue_counts() from public, anon, authenticated;
grant execute on function public.retry_queue_counts() to authenticated;

create function public.prune_retry_queue(p_older_than interval)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  pruned integer;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception 'prune_retry_queue: p_older_than must be a non-negative interval' using errcode = '22023';
  end if;
  -- Attempts go with their item (on delete cascade). No index on resolved_at: a daily prune
  -- scanning the table costs less than indexing every completion.
  delete from public.retry_queue as q
  where q.status = 'resolved' and q.resolved_at < pg_catalog.now() - p_older_than;
  get diagnostics pruned = row_count;
  return pruned;
end
$$;

comment on function public.prune_retry_queue(interval) is
'Deletes resolved items (and their attempts) resolved more than p_older_than ago; returns how '
'many. Failed items stay until the user retries them or they are deleted. Service only.';

revoke all on function public.prune_retry_queue(interval) from public, anon, authenticated;
grant execute on function public.prune_retry_queue(interval) to service_role;
