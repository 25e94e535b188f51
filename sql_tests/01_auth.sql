-- Catalogue-wide: tests no single file of supabase/schemas/, so it takes a prefix no schema file
-- uses (00-09 and 90-99 are kept for such files; NN_<concern>.sql tests schemas/NN_<concern>.sql).
--
-- auth.users and the claim functions of supabase/local/01_auth.sql, owned and granted as on
-- Supabase. Runs as postgres.
begin;
select plan(34);

select has_table('auth', 'users', 'auth.users exists');
select columns_are(
  'auth', 'users',
  array[
    'instance_id', 'id', 'aud', 'role', 'email', 'encrypted_password', 'email_confirmed_at',
    'invited_at', 'confirmation_token', 'confirmation_sent_at', 'recovery_token',
    'recovery_sent_at', 'email_change_token_new', 'email_change', 'email_change_sent_at',
    'last_sign_in_at', 'raw_app_meta_data', 'raw_user_meta_data', 'is_super_admin',
    'created_at', 'updated_at', 'phone', 'phone_confirmed_at', 'phone_change',
    'phone_change_token', 'phone_change_sent_at', 'confirmed_at', 'email_change_token_current',
    'email_change_confirm_status', 'banned_until', 'reauthentication_token',
    'reauthentication_sent_at', 'is_sso_user', 'deleted_at', 'is_anonymous'
  ]
);
select col_is_pk('auth', 'users', 'id', 'auth.users is keyed by id');
select col_type_is('auth', 'users', 'raw_app_meta_data', 'jsonb', 'raw_app_meta_data is jsonb');
select col_not_null('auth', 'users', 'is_anonymous', 'is_anonymous is not null');
select col_default_is('auth', 'users', 'is_anonymous', 'false', 'is_anonymous defaults to false');
select schema_owner_is('auth', 'supabase_admin', 'supabase_admin owns schema auth');
select table_owner_is('auth', 'users', 'supabase_auth_admin', 'supabase_auth_admin owns auth.users');
select function_owner_is('auth', 'uid', array[]::name[], 'supabase_auth_admin', 'supabase_auth_admin owns auth.uid()');
select indexes_are(
  'auth', 'users',
  array[
    'users_pkey', 'users_phone_key', 'users_instance_id_idx', 'users_instance_id_email_idx',
    'users_email_partial_key', 'users_is_anonymous_idx', 'confirmation_token_idx',
    'recovery_token_idx', 'email_change_token_current_idx', 'email_change_token_new_idx',
    'reauthentication_token_idx'
  ],
  'auth.users has Supabase Auth''s indexes'
);
select schema_privs_are('auth', 'postgres', array['USAGE'], 'postgres may use schema auth but not create in it');
select table_privs_are(
  'auth', 'users', 'postgres',
  array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'],
  'postgres reads, writes, references and triggers on auth.users, as on Supabase'
);
select throws_ok(
  'alter table auth.users add column nickname text', '42501', 'must be owner of table users',
  'postgres cannot alter auth.users'
);
select throws_ok(
  'create table auth.profiles (id uuid primary key)', '42501', 'permission denied for schema auth',
  'postgres cannot create in schema auth'
);
select is(
  pg_catalog.obj_description('auth'::regnamespace, 'pg_namespace'),
  'Haven Hub local Supabase compatibility layer',
  'the auth schema carries the marker the migration runner looks for'
);

select is_empty(
  $$
    select r.rolname, f.fn
    from pg_catalog.unnest(array['anon', 'authenticated', 'service_role']) as r (rolname)
    cross join pg_catalog.unnest(array['auth.uid()', 'auth.role()', 'auth.email()', 'auth.jwt()']) as f (fn)
    where not pg_catalog.has_schema_privilege(r.rolname, 'auth', 'usage')
      or not pg_catalog.has_function_privilege(r.rolname, f.fn, 'execute')
  $$,
  'every API role may use schema auth and call the four claim functions'
);

-- Without claims every function answers null.
select tests.clear_authentication();
select is(auth.uid(), null, 'auth.uid() is null without claims');
select is(auth.role(), null, 'auth.role() is null without claims');
select is(auth.email(), null, 'auth.email() is null without claims');
select is(auth.jwt(), null, 'auth.jwt() is null without claims');

-- request.jwt.claims, as PostgREST >= 9 and the service set it.
set local "request.jwt.claims" = '{"sub": "8c7e2f0a-4d9b-4c1e-9a55-1f0d2c3b4a59",
  "role": "authenticated", "email": "claims@example.com", "aud": "authenticated"}';
select is(auth.uid(), '8c7e2f0a-4d9b-4c1e-9a55-1f0d2c3b4a59'::uuid, 'auth.uid() reads sub from request.jwt.claims');
select is(auth.role(), 'authenticated', 'auth.role() reads role from request.jwt.claims');
select is(auth.email(), 'claims@example.com', 'auth.email() reads email from request.jwt.claims');
select is(auth.jwt() ->> 'aud', 'authenticated', 'auth.jwt() returns the whole claims object');

-- request.jwt.claim.<x>, as older PostgREST set it, wins over request.jwt.claims.
set local "request.jwt.claim.sub" = '0b9d5f3e-2a71-4f6c-8e0d-6c4b3a2f1e07';
set local "request.jwt.claim.role" = 'service_role';
set local "request.jwt.claim.email" = 'legacy@example.com';
select is(auth.uid(), '0b9d5f3e-2a71-4f6c-8e0d-6c4b3a2f1e07'::uuid, 'auth.uid() prefers request.jwt.claim.sub');
select is(auth.role(), 'service_role', 'auth.role() prefers request.jwt.claim.role');
select is(auth.email(), 'legacy@example.com', 'auth.email() prefers request.jwt.claim.email');
set local "request.jwt.claim" = '{"sub": "legacy"}';
select is(auth.jwt() ->> 'sub', 'legacy', 'auth.jwt() prefers request.jwt.claim');

-- Empty strings (a cleared setting) count as absent.
select tests.clear_authentication();
set local "request.jwt.claims" = '{"sub": "0b9d5f3e-2a71-4f6c-8e0d-6c4b3a2f1e07"}';
select is(
  auth.uid(),
  '0b9d5f3e-2a71-4f6c-8e0d-6c4b3a2f1e07'::uuid,
  'an empty request.jwt.claim.sub falls through to request.jwt.claims'
);

-- The helpers act as a real user, exactly as the service does.
select tests.create_user('auth-test@example.com') as user_id \gset
select tests.authenticate_as(:'user_id');
select is(auth.uid(), :'user_id'::uuid, 'authenticate_as sets sub');
select is(auth.email(), 'auth-test@example.com', 'authenticate_as sets email');
select is(current_user::text, 'authenticated', 'authenticate_as switches to role authenticated');

select throws_ok(
  'select count(*) from auth.users', '42501', null,
  'authenticated cannot read auth.users'
);
select tests.authenticate_as_anon();
select throws_ok(
  'select count(*) from auth.users', '42501', null,
  'anon cannot read auth.users'
);
select tests.clear_authentication();

select * from finish();
rollback;
