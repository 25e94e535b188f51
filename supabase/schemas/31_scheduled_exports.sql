-- Exports a user schedules (weekly or monthly), as the plan's Step 6.1 defines them. Users manage
-- their own rows (the API's CRUD endpoints, or PostgREST); when a schedule runs is the database's
-- and the worker's business (33_scheduled_export_runs.sql).

create table public.scheduled_exports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  export_type text not null
  constraint scheduled_exports_export_type_known check (export_type = any(public.export_types())),
  -- The plan's column name, though a keyword.
  format text not null default 'csv' -- noqa: RF04
  constraint scheduled_exports_format_valid check (format in ('csv', 'json')),
  field_selection text[],
  date_range_type text
  constraint scheduled_exports_date_range_type_valid
  check (date_range_type in ('last_week', 'last_month', 'all_time')),
  frequency text not null
  constraint scheduled_exports_frequency_valid check (frequency in ('weekly', 'monthly')),
  enabled boolean not null default true,
  delivery_method text not null default 'email'
  constraint scheduled_exports_delivery_method_valid check (delivery_method in ('email', 'download')),
  delivery_email text
  constraint scheduled_exports_delivery_email_shape
  check (delivery_email is null or delivery_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  last_run_at timestamptz,
  -- Computed by the schedule_export_run trigger and advanced by the runner, never the user's to
  -- set: a next_run_at set years back would have the runner queue every missed period, each
  -- emailed to the schedule's free-form address (a mail flood).
  next_run_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- This rule, the known export type and the email's shape are checked by the API too; here a
  -- write through PostgREST is held to them as well.
  constraint scheduled_exports_email_has_address check (delivery_method <> 'email' or delivery_email is not null)
);

comment on table public.scheduled_exports is
'A user''s recurring exports: what (type, format, fields, date range), how often, where to '
'deliver, and when the worker runs it next.';

-- The runner's query: enabled schedules that are due.
create index scheduled_exports_next_run_idx
on public.scheduled_exports (next_run_at)
where enabled = true;

-- A user's schedules; serves the foreign key.
create index scheduled_exports_user_id_idx
on public.scheduled_exports (user_id);

create trigger scheduled_exports_set_updated_at
before update on public.scheduled_exports
for each row execute function public.update_updated_at_column();

alter table public.scheduled_exports enable row level security;

create policy scheduled_exports_select_own on public.scheduled_exports
for select to authenticated
using (user_id = (select auth.uid()));

create policy scheduled_exports_insert_own on public.scheduled_exports
for insert to authenticated
with check (user_id = (select auth.uid()));

create policy scheduled_exports_update_own on public.scheduled_exports
for update to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

create policy scheduled_exports_delete_own on public.scheduled_exports
for delete to authenticated
using (user_id = (select auth.uid()));

-- Users choose what, how often and where; last_run_at and next_run_at are the runner's to write.
revoke all on table public.scheduled_exports from anon, authenticated, service_role;
grant select, delete on table public.scheduled_exports to authenticated;
grant insert (
  user_id, export_type, format, field_selection, date_range_type, frequency, enabled,
  delivery_method, delivery_email
) on table public.scheduled_exports to authenticated;
grant update (
  export_type, format, field_selection, date_range_type, frequency, enabled,
  delivery_method, delivery_email
) on table public.scheduled_exports to authenticated;
grant select, update on table public.scheduled_exports to service_role;
