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
  -- Keys of the type's fields, each once (the scheduled_exports_check_fields trigger); empty or
  -- null: the type's defaults.
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
  constraint scheduled_exports_delivery_email_length check (char_length(delivery_email) <= 254),
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

create function public.check_scheduled_export_fields()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  allowed text[];
  unknown text[];
  repeated text[];
begin
  -- A schedule whose type lost a field since it was saved stays as it is until its owner touches
  -- what it exports: switching it off, renaming its address or deleting it never needs it to
  -- validate. Switching it back on does.
  if tg_op = 'UPDATE'
    and new.export_type is not distinct from old.export_type
    and new.field_selection is not distinct from old.field_selection
    and not (new.enabled and not old.enabled) then
    return new;
  end if;
  if new.field_selection is null or pg_catalog.cardinality(new.field_selection) = 0 then
    return new;
  end if;
  allowed := public.export_fields(new.export_type);
  if allowed is null then
    return new;  -- an unknown type: its own CHECK names the problem
  end if;
  if pg_catalog.array_ndims(new.field_selection) > 1
    or pg_catalog.cardinality(new.field_selection) > pg_catalog.cardinality(allowed) then
    raise exception 'field_selection: at most % field keys for %, in a flat list',
      pg_catalog.cardinality(allowed), new.export_type
      using errcode = '23514';
  end if;
  select pg_catalog.array_agg(coalesce(f.key, 'null') order by f.ord)
  into unknown
  from pg_catalog.unnest(new.field_selection) with ordinality as f (key, ord)
  where f.key is null or not f.key = any(allowed);
  if unknown is not null then
    raise exception 'field_selection: unknown field(s) for %: % (the fields are %)',
      new.export_type, pg_catalog.array_to_string(unknown, ', '), pg_catalog.array_to_string(allowed, ', ')
      using errcode = '23514';
  end if;
  select pg_catalog.array_agg(r.key order by r.key)
  into repeated
  from (
    select f.key from pg_catalog.unnest(new.field_selection) as f (key)
    group by f.key having pg_catalog.count(*) > 1
  ) as r;
  if repeated is not null then
    raise exception 'field_selection: field(s) listed more than once: %', pg_catalog.array_to_string(repeated, ', ')
      using errcode = '23514';
  end if;
  return new;
end
$$;

comment on function public.check_scheduled_export_fields() is
'Trigger: a schedule''s field_selection holds keys of its type''s fields (export_fields()), each '
'once. Checked on create, when the type or the fields change, and when a schedule is switched '
'back on; never for an update that leaves them alone (a user can always switch a schedule off). '
'23514 naming the problem.';

revoke all on function public.check_scheduled_export_fields() from public, anon, authenticated;

create trigger scheduled_exports_check_fields
before insert or update on public.scheduled_exports
for each row execute function public.check_scheduled_export_fields();

create function public.limit_export_schedules()
returns trigger
language plpgsql
-- Counts the user's schedules whoever inserts (RLS would hide none of them anyway) and reads the
-- cap from service_limits, which users cannot read.
security definer
set search_path = ''
as $$
declare
  cap bigint := public.service_limit('export_schedules_per_user');
  held bigint;
begin
  -- One insert per user at a time, so two concurrent inserts cannot both take the last place.
  -- Under READ COMMITTED (PostgREST's and the service's) the count below then sees the other's
  -- committed rows, and rows this statement inserted before this one.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('scheduled_exports:' || new.user_id::text, 0)
  );
  select pg_catalog.count(*) into held from public.scheduled_exports as s where s.user_id = new.user_id;
  if held >= cap then
    raise exception
      'export_schedules_per_user: at most % export schedules per account, and this one has %: delete one first',
      cap, held
      using errcode = 'PT409';
  end if;
  return new;
end
$$;

comment on function public.limit_export_schedules() is
'Trigger: refuses a new schedule once its user has service_limit(''export_schedules_per_user'') of '
'them (PT409, answered 409 limit_reached).';

revoke all on function public.limit_export_schedules() from public, anon, authenticated, service_role;

create trigger scheduled_exports_limit_per_user
before insert on public.scheduled_exports
for each row execute function public.limit_export_schedules();
