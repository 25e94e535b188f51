-- Helpers for the pgTAP files: make users and act as them the way PostgREST (and the service's
-- db.as_user / db.as_service) do, by setting the role and request.jwt.claims for the transaction.
-- Loaded into the test database only, never by a migration. Safe to load twice.

create schema if not exists tests;

comment on schema tests is 'pgTAP helpers; exists in test databases only.';

-- The helpers are called after switching to an API role, so those roles must reach them.
grant usage on schema tests to anon, authenticated, service_role;

create or replace function tests.create_user(email text, user_metadata jsonb = '{}')
returns uuid
language plpgsql
as $$
declare
  new_id uuid := pg_catalog.gen_random_uuid();
begin
  insert into auth.users (
    instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
    email_confirmed_at, created_at, updated_at
  )
  values (
    '00000000-0000-0000-0000-000000000000', new_id, 'authenticated', 'authenticated',
    create_user.email, '{"provider": "email", "providers": ["email"]}', user_metadata,
    pg_catalog.now(), pg_catalog.now(), pg_catalog.now()
  );
  return new_id;
end
$$;

comment on function tests.create_user(text, jsonb) is
'Inserts an auth.users row as Supabase Auth would on email sign-up; returns its id.';

create or replace function tests.clear_authentication()
returns void
language sql
as $$
  -- role 'none' is RESET ROLE, which any role may do: back to the session user.
  select pg_catalog.set_config('role', 'none', true);
  select pg_catalog.set_config('request.jwt.claims', '', true);
  select pg_catalog.set_config('request.jwt.claim', '', true);
  select pg_catalog.set_config('request.jwt.claim.sub', '', true);
  select pg_catalog.set_config('request.jwt.claim.role', '', true);
  select pg_catalog.set_config('request.jwt.claim.email', '', true);
$$;

comment on function tests.clear_authentication() is
'Back to the session user with no JWT claims, until the end of the transaction.';

create or replace function tests.authenticate_as(user_id uuid)
returns void
language plpgsql
as $$
declare
  user_email text;
begin
  perform tests.clear_authentication();
  select u.email into user_email from auth.users as u where u.id = user_id;
  if not found then
    raise exception 'tests.authenticate_as: no auth.users row %', user_id;
  end if;
  perform pg_catalog.set_config(
    'request.jwt.claims',
    pg_catalog.jsonb_build_object(
      'sub', user_id, 'role', 'authenticated', 'email', user_email, 'aud', 'authenticated'
    )::text,
    true
  );
  perform pg_catalog.set_config('role', 'authenticated', true);
end
$$;

comment on function tests.authenticate_as(uuid) is
'Acts as this user (role authenticated, JWT claims sub/role/email/aud) until the end of the transaction.';

create or replace function tests.authenticate_as_anon()
returns void
language sql
as $$
  select tests.clear_authentication();
  select pg_catalog.set_config('request.jwt.claims', '{"role": "anon"}', true);
  select pg_catalog.set_config('role', 'anon', true);
$$;

comment on function tests.authenticate_as_anon() is
'Acts as a caller with only the anon key until the end of the transaction.';

create or replace function tests.authenticate_as_service()
returns void
language sql
as $$
  select tests.clear_authentication();
  select pg_catalog.set_config('request.jwt.claims', '{"role": "service_role"}', true);
  select pg_catalog.set_config('role', 'service_role', true);
$$;

comment on function tests.authenticate_as_service() is
'Acts as the service (role service_role) until the end of the transaction.';

create or replace function tests.sqlstate_of(statement text)
returns text
language plpgsql
as $$
begin
  execute statement;
  return null;
exception
  when others then
    return sqlstate;
end
$$;

comment on function tests.sqlstate_of(text) is
'Runs a statement and returns the SQLSTATE it raised, or null. For assertions over many statements.';

revoke all on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;
