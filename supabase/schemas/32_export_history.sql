-- Every export a user ran: what was asked for, and how it ended. The service writes the row when
-- the stream starts (status streaming) and completes it when the stream ends, so the record count
-- of a streamed file (which no response header can carry) is kept here. A stream that dies
-- mid-way is marked failed by the orphan sweep (35_export_orphans.sql).
--
-- A scheduled run is recorded here like any export, linked to its schedule and the run time it
-- was queued for, with how it was delivered. A retried run finds its earlier attempt here: a
-- built file is not built again, and a delivered run is not delivered again.

create table public.export_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  export_type text not null
  constraint export_history_export_type_known check (export_type = any(public.export_types())),
  format text not null
  constraint export_history_format_known check (format in ('csv', 'json')),
  fields text[] not null
  constraint export_history_fields_not_empty check (cardinality(fields) > 0),
  -- The rows exported were those with start_date <= date < end_date (both resolved, never null
  -- for start; null end = no upper bound).
  start_date timestamptz,
  end_date timestamptz,
  row_limit integer
  constraint export_history_row_limit_positive check (row_limit > 0),
  status text not null default 'streaming'
  constraint export_history_status_known
  check (status in ('streaming', 'completed', 'failed', 'abandoned')),
  record_count bigint
  constraint export_history_record_count_not_negative check (record_count >= 0),
  error text,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  scheduled_export_id uuid references public.scheduled_exports (id) on delete set null,
  scheduled_for timestamptz,
  delivery_method text
  constraint export_history_delivery_method_known check (delivery_method in ('email', 'download')),
  delivered_at timestamptz,
  -- Resend's email id for an emailed file (what a retry compares against; never a secret).
  delivery_id text,
  constraint export_history_dates_ordered check (start_date < end_date),
  constraint export_history_finished_when_done check ((status = 'streaming') = (finished_at is null)),
  constraint export_history_completed_has_count check (status <> 'completed' or record_count is not null),
  constraint export_history_schedule_run_complete
  check ((scheduled_export_id is null and delivery_method is null) or scheduled_for is not null),
  constraint export_history_delivered_when_completed
  check (delivered_at is null or status = 'completed')
);

comment on table public.export_history is
'One row per export run: type, format, fields, date range, limit, outcome, rows sent.';

comment on column public.export_history.scheduled_export_id is
'The schedule this run belongs to (null for an export a user downloaded; kept null when the schedule is deleted).';
comment on column public.export_history.scheduled_for is
'The run time the schedule was queued for: it fixes the date range and names the run.';

create index export_history_user_id_created_at_idx
on public.export_history (user_id, created_at desc);

-- A schedule's runs, newest first; serves the foreign key.
create index export_history_scheduled_export_id_idx
on public.export_history (scheduled_export_id, scheduled_for desc);

-- The orphan sweep's scan (fail_orphaned_exports): only rows still streaming, oldest first.
create index export_history_streaming_created_at_idx
on public.export_history (created_at)
where status = 'streaming';

create trigger export_history_set_updated_at
before update on public.export_history
for each row execute function public.update_updated_at_column();

alter table public.export_history enable row level security;

create policy export_history_select_own on public.export_history
for select to authenticated
using (user_id = (select auth.uid()));

-- A user-written row could claim any count; the service records what it actually streamed.
revoke all on table public.export_history from anon, authenticated, service_role;
grant select on table public.export_history to authenticated;
grant select, insert, update on table public.export_history to service_role;
