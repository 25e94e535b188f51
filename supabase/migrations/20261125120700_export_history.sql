-- Every export a user ran: what was asked for, and how it ended. The service writes the row when
-- the stream starts (status streaming) and completes it when the stream ends, so the record count
-- of a streamed file (which no response header can carry) is kept here.

create function public.export_types()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['leads', 'customers', 'orders', 'pins', 'quotes', 'assets', 'analytics']::text[]
$$;

comment on function public.export_types() is
'The export types (service/exports/catalog.py holds their fields). The one list SQL checks read.';

-- Pure; CHECK constraints call it with the writing role's rights.
revoke all on function public.export_types() from public, anon;
grant execute on function public.export_types() to authenticated, service_role;

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
  constraint export_history_dates_ordered check (start_date < end_date),
  constraint export_history_finished_when_done check ((status = 'streaming') = (finished_at is null)),
  constraint export_history_completed_has_count check (status <> 'completed' or record_count is not null)
);

comment on table public.export_history is
'One row per export run: type, format, fields, date range, limit, outcome, rows sent.';

create index export_history_user_id_created_at_idx
on public.export_history (user_id, created_at desc);

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
