-- What the service did, or proposed to do, for each user. An audit log: users read their own
-- entries and nobody edits them; the service appends through public.log_activity().

create table public.activity_log (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  action_type text not null
  constraint activity_log_action_type_not_blank check (btrim(action_type) <> ''),
  details jsonb not null default '{}'::jsonb
  constraint activity_log_details_is_object check (jsonb_typeof(details) = 'object'),
  -- false when the action was only proposed (operator modes that wait for approval).
  executed boolean not null default true,
  module text,
  created_at timestamptz not null default now()
);

comment on table public.activity_log is
'Append-only audit log of actions taken (or proposed, executed = false) on a user''s behalf.';

-- Serves the foreign key too: user_id leads.
create index activity_log_user_id_created_at_idx
on public.activity_log (user_id, created_at desc);

alter table public.activity_log enable row level security;

create policy activity_log_select_own on public.activity_log
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.activity_log from anon, authenticated, service_role;
grant select on table public.activity_log to authenticated;
grant select, insert on table public.activity_log to service_role;

create function public.log_activity(
  p_user_id uuid,
  p_action_type text,
  p_details jsonb default '{}'::jsonb,
  p_executed boolean default true,
  p_module text default null
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  new_id uuid;
begin
  if p_user_id is null then
    raise exception 'log_activity: p_user_id is required'
      using errcode = '22023';
  end if;
  if p_action_type is null or pg_catalog.btrim(p_action_type) = '' then
    raise exception 'log_activity: p_action_type must be a non-empty string'
      using errcode = '22023';
  end if;
  if p_details is not null and pg_catalog.jsonb_typeof(p_details) <> 'object' then
    raise exception 'log_activity: p_details must be a JSON object, not %',
      pg_catalog.jsonb_typeof(p_details)
      using errcode = '22023';
  end if;

  insert into public.activity_log (user_id, action_type, details, executed, module)
  values (
    p_user_id,
    p_action_type,
    coalesce(p_details, '{}'::jsonb),
    coalesce(p_executed, true),
    p_module
  )
  returning id into new_id;
  return new_id;
exception
  -- The caller (service_role) cannot read auth.users; the foreign key can.
  when foreign_key_violation then
    raise exception 'log_activity: user % not found', p_user_id
      using errcode = 'P0002';
end
$$;

comment on function public.log_activity(uuid, text, jsonb, boolean, text) is
'Appends an activity_log entry and returns its id. Service only. 22023: bad argument; P0002: unknown user.';

-- SECURITY INVOKER: service_role inserts with its own INSERT grant.
revoke all on function public.log_activity(uuid, text, jsonb, boolean, text)
from public, anon, authenticated;
grant execute on function public.log_activity(uuid, text, jsonb, boolean, text) to service_role;
