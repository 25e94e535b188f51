-- Caps the database holds against users' own writes. A cap is a setting of the service
-- (service/config.py); SQL learns its value from this table, which the worker writes from its
-- settings when it starts and every minute (the periodic job limits.sync). Until a worker has
-- written one, service_limit() answers the setting's default, so a database that only PostgREST
-- writes to is capped too. A cap on a write only the service makes (the bytes a user's stored
-- export files may take) is a parameter of the function that makes it instead.
--
-- A refused write raises SQLSTATE PT409: the service answers 409 limit_reached (service/errors.py),
-- and PostgREST answers HTTP 409 as well (its PTxyz convention), with the message naming the cap.

create table public.service_limits (
  name text primary key
  constraint service_limits_name_known check (name in ('export_schedules_per_user')),
  value bigint not null -- noqa: RF04
  constraint service_limits_value_not_negative check (value >= 0),
  updated_at timestamptz not null default now()
);

comment on table public.service_limits is
'The values of the caps SQL enforces on users'' writes, written from the service''s settings by the '
'worker (limits.sync). Service only.';

create trigger service_limits_set_updated_at
before update on public.service_limits
for each row execute function public.update_updated_at_column();

alter table public.service_limits enable row level security;

-- Users have no access at all; this policy says so (and no grant lets them reach the table).
create policy service_limits_no_user_access on public.service_limits
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.service_limits from anon, authenticated, service_role;
grant select, insert, update on table public.service_limits to service_role;

create function public.service_limit(p_name text)
returns bigint
language sql
stable
set search_path = ''
as $$
  -- The defaults are the settings' defaults (service/config.py); a test holds them equal.
  select coalesce(
    (select l.value from public.service_limits as l where l.name = p_name),
    case p_name
      when 'export_schedules_per_user' then 20
    end
  )
$$;

comment on function public.service_limit(text) is
'The value of a cap: the one the worker wrote to service_limits, else its default. Null for an '
'unknown name. Service only (triggers that enforce a cap read the table with their owner''s rights).';

revoke all on function public.service_limit(text) from public, anon, authenticated;
grant execute on function public.service_limit(text) to service_role;

create function public.set_service_limits(p_limits jsonb)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if pg_catalog.jsonb_typeof(p_limits) is distinct from 'object' then
    raise exception 'set_service_limits: an object of cap names and values is required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.jsonb_each(p_limits) as l
    where pg_catalog.jsonb_typeof(l.value) is distinct from 'number'
  ) then
    raise exception 'set_service_limits: every value must be a number' using errcode = '22023';
  end if;
  insert into public.service_limits as s (name, value)
  select l.key, (l.value #>> '{}')::bigint
  from pg_catalog.jsonb_each(p_limits) as l
  on conflict (name) do update
  set value = excluded.value
  where s.value is distinct from excluded.value;
end
$$;

comment on function public.set_service_limits(jsonb) is
'Writes the caps'' values, e.g. {"export_schedules_per_user": 20}. An unknown name fails its CHECK '
'(23514). Service only: the worker calls it with its settings.';

revoke all on function public.set_service_limits(jsonb) from public, anon, authenticated;
grant execute on function public.set_service_limits(jsonb) to service_role;
