-- Supabase's API roles and the grants every Supabase project starts with, for plain Postgres.
-- Mirrors supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql and its
-- later migrations 20221028101028_set_authenticator_timeout, 20230529180330_alter_api_roles_for_inherit
-- and 20231130133139_set_lock_timeout_to_authenticator_role.
-- Applied on every migrate run, so every statement must be safe to repeat.

-- Roles belong to the cluster, not the database: a second database finds them already there.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticator') then
    create role authenticator;
  end if;
end
$$;

-- Attributes are set on every run, so a role left over from an older layer is corrected.
-- Supabase created the three API roles NOINHERIT and later switched them to INHERIT.
alter role anon nologin inherit;
alter role authenticated nologin inherit;
alter role service_role nologin inherit bypassrls;
alter role authenticator login noinherit;

-- One role per statement: sqlfluff's postgres grammar cannot parse a list of granted roles.
grant anon to authenticator;
grant authenticated to authenticator;
grant service_role to authenticator;
-- The migration owner plays the part of Supabase's `postgres`, which may switch to each role.
grant anon to current_user;
grant authenticated to current_user;
grant service_role to current_user;

-- Short timeouts for the API roles, as Supabase sets them (they apply at login, so a service
-- connecting as postgres and switching role does not inherit them).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;

grant usage on schema public to anon, authenticated, service_role;

-- Supabase's default privileges: everything the migration owner creates in public is granted
-- to the API roles. A migration that does not revoke leaks here exactly as it would there.
alter default privileges in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public
grant all on sequences to anon, authenticated, service_role;
