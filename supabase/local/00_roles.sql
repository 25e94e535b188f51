-- Supabase's roles and the privileges a Supabase project gives them, for plain Postgres.
-- Applied by the cluster's bootstrap superuser, `supabase_admin` (as on Supabase), never by a
-- migration; migrations and the service then connect as `postgres`, which is NOT a superuser.
-- Sources (supabase/postgres): migrations/db/init-scripts/00000000000000-initial-schema.sql and
-- 00000000000003-post-setup.sql, and migrations/db/migrations/ 10000000000000_demote-postgres,
-- 20221028101028_set_authenticator_timeout, 20221103090837_revoke_admin,
-- 20230201083204_grant_auth_roles_to_postgres, 20230224042246_grant_extensions_perms_for_postgres,
-- 20230306081037_grant_pg_monitor_to_postgres, 20230529180330_alter_api_roles_for_inherit,
-- 20231130133139_set_lock_timeout_to_authenticator_role, 20240606060239_grant_predefined_roles_to_postgres,
-- 20250421084701_revoke_admin_roles_from_postgres, 20250605172253_grant_with_admin_to_postgres_16_and_above,
-- 20260821154147_revoke_createrole_from_auth_admin.
-- Applied on every bootstrap, to template1 and every database, so every statement must be safe
-- to repeat.

-- Roles belong to the cluster, not the database: a second database finds them already there.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'postgres') then
    create role postgres;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin;
  end if;
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
-- postgres as Supabase demotes it: no superuser, but it may create databases and roles and
-- bypasses RLS. Its password is set by the bootstrap (service/localdb.py), not here.
alter role postgres nosuperuser createdb createrole login replication bypassrls;
alter role supabase_auth_admin nosuperuser noinherit nocreaterole login noreplication;
alter role supabase_storage_admin nosuperuser noinherit createrole login noreplication;
-- Supabase created the three API roles NOINHERIT and later switched them to INHERIT.
alter role anon nologin inherit;
alter role authenticated nologin inherit;
alter role service_role nologin inherit bypassrls;
alter role authenticator login noinherit;

-- One role per statement: sqlfluff's postgres grammar cannot parse a list of granted roles.
grant anon to authenticator;
grant authenticated to authenticator;
grant service_role to authenticator;
-- postgres may switch to each API role (the service does, per transaction), and holds the
-- predefined roles Supabase grants it; it is NOT a member of the admin roles that own auth,
-- storage and vault, so it cannot alter their objects.
grant anon to postgres;
grant authenticated to postgres;
grant service_role to postgres;
grant pg_monitor to postgres;
grant pg_read_all_data to postgres;
grant pg_signal_backend to postgres;
revoke supabase_auth_admin from postgres;
revoke supabase_storage_admin from postgres;
revoke supabase_admin from authenticator;
do $$
begin
  -- From Postgres 16 a role needs ADMIN OPTION to grant a role it belongs to; Supabase gives it.
  if pg_catalog.current_setting('server_version_num')::int >= 160000 then
    execute 'grant anon, authenticated, service_role to postgres with admin option';
  end if;
end
$$;

-- Short timeouts for the API roles, as Supabase sets them (they apply at login, so a service
-- connecting as postgres and switching role does not inherit them).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path = '$user', public, extensions;
alter role supabase_auth_admin set search_path = auth;

-- The database belongs to postgres, as Supabase's set-up makes it (and with it schema public,
-- owned by pg_database_owner); template1 is the superuser's.
do $$
begin
  execute pg_catalog.format(
    'alter database %I owner to %I',
    pg_catalog.current_database(),
    case
      when (select d.datistemplate from pg_catalog.pg_database as d where d.datname = pg_catalog.current_database())
        then 'supabase_admin'
      else 'postgres'
    end
  );
end
$$;

create schema if not exists extensions;
-- On Supabase postgres created schema extensions (before it was demoted) and owns it.
alter schema extensions owner to postgres;
grant usage on schema extensions to anon, authenticated, service_role;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

grant usage on schema public to postgres, anon, authenticated, service_role;

-- Supabase's default privileges: everything postgres (a migration) or supabase_admin creates in
-- public is granted to the API roles. A migration that does not revoke leaks here exactly as it
-- would there.
alter default privileges for role postgres in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on sequences to anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on sequences to postgres, anon, authenticated, service_role;
