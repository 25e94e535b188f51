-- The queue writes three rows per drained item instead of four, and fewer index entries
-- (docs/queue.md, "What an item costs"): the claim records the attempt on the item only; the
-- statement that ends an attempt (complete, fail, rescue) inserts its retry_attempts row. The
-- worker index holds in-flight items only, the operation index leaves resolved items out, and
-- the service's own updates run no trigger function.

-- Attempts in progress are on their items now (worker_id, claimed_at): their open rows go, and
-- the completion, failure or rescue that ends each writes it again, finished.
delete from public.retry_attempts where outcome = 'running';

alter table public.retry_attempts drop constraint retry_attempts_finished_unless_running;
alter table public.retry_attempts drop constraint retry_attempts_outcome_valid;
alter table public.retry_attempts drop constraint retry_attempts_item_attempt_key;
alter table public.retry_attempts drop column id;
alter table public.retry_attempts add constraint retry_attempts_pkey primary key (item_id, attempt);
alter table public.retry_attempts
add constraint retry_attempts_outcome_valid check (outcome in ('succeeded', 'failed', 'lost'));
alter table public.retry_attempts alter column started_at drop default;
alter table public.retry_attempts alter column finished_at set not null;
alter table public.retry_attempts alter column outcome drop default;

comment on table public.retry_attempts is
'One row per finished attempt at a retry_queue item: who ran it, when, how it ended (succeeded, '
'failed, lost with its worker) and why it failed. The attempt in progress is on the item '
'(worker_id, claimed_at). Users read the attempts of their own items.';

drop index public.retry_queue_worker_idx;
drop index public.retry_queue_processing_heartbeat_idx;
drop index public.retry_queue_operation_idx;

create index retry_queue_operation_idx
on public.retry_queue (user_id, operation_type, status)
where status <> 'resolved';

create index retry_queue_processing_idx
on public.retry_queue (worker_id)
where status = 'processing';

drop trigger retry_queue_set_updated_at on public.retry_queue;
create trigger retry_queue_set_updated_at
before update on public.retry_queue
for each row
when (new.updated_at is not distinct from old.updated_at)
execute function public.update_updated_at_column();

drop trigger retry_queue_guard_user_retry on public.retry_queue;
create trigger retry_queue_guard_user_retry
before update on public.retry_queue
for each row
when (current_user = 'authenticated')
execute function public.guard_user_retry();

create or replace function public.claim_retry_items(p_worker_id text, p_limit integer default 10)
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

create or replace function public.complete_retry_items(p_worker_id text, p_ids uuid[])
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

create or replace function public.fail_retry_item(
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

create or replace function public.heartbeat_retry_items(p_worker_id text)
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

create or replace function public.release_retry_items(p_worker_id text, p_ids uuid[])
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

create or replace function public.rescue_stale_retry_items(
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
