-- Catalogue-wide: tests no single file of supabase/schemas/, so it takes a prefix no schema file
-- uses (00-09 and 90-99 are kept for such files; NN_<concern>.sql tests schemas/NN_<concern>.sql).
--
-- Supabase's roles and default grants, as supabase/local/00_roles.sql mirrors them. Runs as
-- postgres, the role migrations and the service use.
begin;
select plan(32);

select has_role('anon');
select has_role('authenticated');
select has_role('service_role');
select has_role('authenticator');

select results_eq(
  $$
    select rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper
    from pg_catalog.pg_roles
    where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
    order by rolname
  $$,
  $$
    values
    ('anon'::name, false, true, false, false),
    ('authenticated', false, true, false, false),
    ('authenticator', true, false, false, false),
    ('service_role', false, true, true, false)
  $$,
  'role attributes are those of a Supabase project'
);

select results_eq(
  $$
    select rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls
    from pg_catalog.pg_roles
    where rolname in ('postgres', 'supabase_admin', 'supabase_auth_admin')
    order by rolname
  $$,
  $$
    values
    ('postgres'::name, false, true, true, true, true, true),
    ('supabase_admin', true, true, true, true, true, true),
    ('supabase_auth_admin', false, false, false, true, false, false)
  $$,
  'postgres is demoted as on Supabase; supabase_admin is the superuser; supabase_auth_admin is neither'
);
select is(current_user::text, 'postgres', 'the tests, like migrations and the service, run as postgres');
select ok(
  pg_catalog.pg_has_role('postgres', 'pg_read_all_data', 'member')
  and pg_catalog.pg_has_role('postgres', 'pg_signal_backend', 'member')
  and pg_catalog.pg_has_role('postgres', 'pg_monitor', 'member'),
  'postgres holds the predefined roles Supabase grants it'
);
select ok(
  not pg_catalog.pg_has_role('postgres', 'supabase_auth_admin', 'member')
  and not pg_catalog.pg_has_role('postgres', 'supabase_storage_admin', 'member')
  and not pg_catalog.pg_has_role('postgres', 'supabase_admin', 'member'),
  'postgres is a member of none of the admin roles (Supabase revoked them in 2025)'
);
select is(
  (
    select d.datdba::regrole::text from pg_catalog.pg_database as d
    where d.datname = pg_catalog.current_database()
  ),
  'postgres',
  'the database belongs to postgres'
);
select is(
  (select n.nspowner::regrole::text from pg_catalog.pg_namespace as n where n.nspname = 'extensions'),
  'postgres',
  'schema extensions belongs to postgres, as on Supabase'
);

select is_member_of('anon', array['authenticator']::name[]);
select is_member_of('authenticated', array['authenticator']::name[]);
select is_member_of('service_role', array['authenticator']::name[]);

select ok(
  pg_catalog.pg_has_role(current_user, 'anon', 'member')
  and pg_catalog.pg_has_role(current_user, 'authenticated', 'member')
  and pg_catalog.pg_has_role(current_user, 'service_role', 'member'),
  'the migration owner may act as each API role, as postgres does on Supabase'
);

select results_eq(
  $$
    select r.rolname, s.cfg collate "default"
    from pg_catalog.pg_db_role_setting as d
    join pg_catalog.pg_roles as r on r.oid = d.setrole
    cross join lateral pg_catalog.unnest(d.setconfig) as s (cfg)
    where d.setdatabase = 0
      and r.rolname in ('anon', 'authenticated', 'authenticator')
      and s.cfg like any (array['statement_timeout=%', 'lock_timeout=%'])
    order by r.rolname, s.cfg
  $$,
  $$
    values
    ('anon'::name, 'statement_timeout=3s'),
    ('authenticated', 'statement_timeout=8s'),
    ('authenticator', 'lock_timeout=8s'),
    ('authenticator', 'statement_timeout=8s')
  $$,
  'API roles have Supabase''s statement and lock timeouts'
);

select schema_privs_are('public', 'anon', array['USAGE']);
select schema_privs_are('public', 'authenticated', array['USAGE']);
select schema_privs_are('public', 'service_role', array['USAGE']);
select schema_privs_are('extensions', 'anon', array['USAGE']);
select schema_privs_are('extensions', 'authenticated', array['USAGE']);
select schema_privs_are('extensions', 'service_role', array['USAGE']);

-- Supabase's default privileges: whatever the migration owner creates in public is granted to
-- every API role until a migration revokes it.
create table public.default_grants_probe (id integer generated always as identity primary key);
create function public.default_grants_probe_fn() returns integer language sql as 'select 1';

select table_privs_are(
  'public', 'default_grants_probe', 'anon',
  array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'],
  'a new table in public is granted ALL to anon'
);
select table_privs_are(
  'public', 'default_grants_probe', 'authenticated',
  array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'],
  'a new table in public is granted ALL to authenticated'
);
select table_privs_are(
  'public', 'default_grants_probe', 'service_role',
  array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'],
  'a new table in public is granted ALL to service_role'
);
select sequence_privs_are(
  'public', 'default_grants_probe_id_seq', 'anon', array['SELECT', 'UPDATE', 'USAGE'],
  'a new sequence in public is granted ALL to anon'
);
select sequence_privs_are(
  'public', 'default_grants_probe_id_seq', 'authenticated', array['SELECT', 'UPDATE', 'USAGE'],
  'a new sequence in public is granted ALL to authenticated'
);
select sequence_privs_are(
  'public', 'default_grants_probe_id_seq', 'service_role', array['SELECT', 'UPDATE', 'USAGE'],
  'a new sequence in public is granted ALL to service_role'
);
-- Functions are executable by PUBLIC anyway; the trap is that revoking from PUBLIC alone
-- leaves the explicit grants to the API roles in place.
revoke all on function public.default_grants_probe_fn() from public;
select function_privs_are(
  'public', 'default_grants_probe_fn', array[]::name[], 'anon', array['EXECUTE'],
  'a new function in public stays executable by anon after REVOKE FROM PUBLIC'
);
select function_privs_are(
  'public', 'default_grants_probe_fn', array[]::name[], 'authenticated', array['EXECUTE'],
  'a new function in public stays executable by authenticated after REVOKE FROM PUBLIC'
);
select function_privs_are(
  'public', 'default_grants_probe_fn', array[]::name[], 'service_role', array['EXECUTE'],
  'a new function in public stays executable by service_role after REVOKE FROM PUBLIC'
);

-- And the grant is real, not just catalogued: anon can read the forgotten table.
select tests.authenticate_as_anon();
select lives_ok(
  'select * from public.default_grants_probe',
  'anon reads a table whose migration forgot to revoke'
);
select tests.clear_authentication();

select * from finish();
rollback;
