-- Periodic jobs of the worker fleet (rescue, token refresh, due scheduled exports, pruning): each
-- run is claimed here, so however many workers run, a job runs once per interval.

create table public.periodic_jobs (
  name text primary key
  constraint periodic_jobs_name_not_blank check (btrim(name) <> ''),
  next_run_at timestamptz not null default now(),
  last_started_at timestamptz,
  last_worker_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.periodic_jobs is
'When each periodic worker job may next run, and who ran it last. Written only through '
'claim_periodic_job(); service only.';

create trigger periodic_jobs_set_updated_at
before update on public.periodic_jobs
for each row execute function public.update_updated_at_column();

alter table public.periodic_jobs enable row level security;

-- Users have no access at all; this policy says so (and no grant lets them reach the table).
create policy periodic_jobs_no_user_access on public.periodic_jobs
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.periodic_jobs from anon, authenticated, service_role;
grant select, insert, update on table public.periodic_jobs to service_role;

create function public.claim_periodic_job(p_name text, p_worker_id text, p_interval interval)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  claimed boolean;
begin
  if p_name is null or pg_catalog.btrim(p_name) = '' then
    raise exception 'claim_periodic_job: p_name must be a non-empty string' using errcode = '22023';
  end if;
  if p_worker_id is null or pg_catalog.btrim(p_worker_id) = '' then
    raise exception 'claim_periodic_job: p_worker_id must be a non-empty string' using errcode = '22023';
  end if;
  if p_interval is null or p_interval <= interval '0' then
    raise exception 'claim_periodic_job: p_interval must be a positive interval' using errcode = '22023';
  end if;

  insert into public.periodic_jobs (name) values (p_name) on conflict (name) do nothing;
  -- Two workers claiming at once: the second waits for the first's row lock, then re-reads the
  -- row (READ COMMITTED), sees next_run_at in the future and claims nothing.
  update public.periodic_jobs as j
  set
    next_run_at = pg_catalog.clock_timestamp() + p_interval,
    last_started_at = pg_catalog.clock_timestamp(),
    last_worker_id = p_worker_id
  where j.name = p_name and j.next_run_at <= pg_catalog.clock_timestamp()
  returning true into claimed;
  return coalesce(claimed, false);
end
$$;

comment on function public.claim_periodic_job(text, text, interval) is
'True when this worker may run the periodic job p_name now (it was due); the next run is then '
'due p_interval later. False when it is not due or another worker claimed this run. A run that '
'dies is simply run again at the next interval. Service only.';

revoke all on function public.claim_periodic_job(text, text, interval) from public, anon, authenticated;
grant execute on function public.claim_periodic_job(text, text, interval) to service_role;

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
