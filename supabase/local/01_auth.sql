-- The part of Supabase Auth's schema that applications touch, for plain Postgres, owned and
-- granted as on Supabase: schema auth belongs to supabase_admin, its tables and functions to
-- supabase_auth_admin (the role Supabase Auth migrates as), and postgres (migrations, the service)
-- may read and write auth.users and hang triggers and foreign keys on it, but may not alter it
-- (`must be owner of table users`) nor create anything in schema auth.
-- Table: supabase/postgres init-scripts/00000000000001-auth-schema.sql plus supabase/auth's later
-- migrations (as a hosted project's schema dump shows them). Indexes: supabase/auth migrations
-- 20220114185221_update_user_idx, 20220429102000_add_unique_idx,
-- 20221215195500_modify_users_email_unique_index, 20240214120130_add_is_anonymous_column.
-- Grants: supabase/postgres 20211115181400_update-auth-permissions, 20250421084701_revoke_admin_roles_from_postgres,
-- supabase/auth 20240612123726_enable_rls_update_grants. Functions: supabase/auth
-- 20220224000811_update_auth_functions and 20220531120530_add_auth_jwt_function.
-- Applied by the bootstrap superuser on every bootstrap, so every statement must be safe to repeat.

create schema if not exists auth;
alter schema auth owner to supabase_admin;

-- The runner recognises this layer by the comment; a real Supabase project, whose auth schema
-- carries no such comment, is never touched.
comment on schema auth is 'Haven Hub local Supabase compatibility layer';

grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;
-- Supabase once granted postgres ALL on schema auth, then took CREATE back.
revoke create on schema auth from postgres;

create table if not exists auth.users (
  instance_id uuid,
  id uuid not null,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
  check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false,
  constraint users_pkey primary key (id)
);

alter table auth.users owner to supabase_auth_admin;

create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email::text));
create unique index if not exists users_email_partial_key on auth.users (email)
where (is_sso_user = false);
comment on index auth.users_email_partial_key is
'Auth: A partial unique index that applies only when is_sso_user is false';
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
-- Tokens are unique, except the empty, blank or all-digit ones (OTPs) Auth also stores.
create unique index if not exists confirmation_token_idx on auth.users (confirmation_token)
where (confirmation_token::text !~ '^[0-9 ]*$');
create unique index if not exists recovery_token_idx on auth.users (recovery_token)
where (recovery_token::text !~ '^[0-9 ]*$');
create unique index if not exists email_change_token_current_idx on auth.users (email_change_token_current)
where (email_change_token_current::text !~ '^[0-9 ]*$');
create unique index if not exists email_change_token_new_idx on auth.users (email_change_token_new)
where (email_change_token_new::text !~ '^[0-9 ]*$');
create unique index if not exists reauthentication_token_idx on auth.users (reauthentication_token)
where (reauthentication_token::text !~ '^[0-9 ]*$');

comment on table auth.users is 'Auth: Stores user login data within a secure schema.';
comment on column auth.users.is_sso_user is
'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';

-- As on Supabase: RLS on and no grants to the API roles, so anon and authenticated cannot read
-- users. postgres may read (and pass SELECT on), write, reference and trigger, as a hosted
-- project's grants show; it bypasses RLS.
alter table auth.users enable row level security;
revoke all on table auth.users from public, anon, authenticated, service_role, postgres;
grant insert, references, delete, trigger, truncate, update on table auth.users to postgres;
grant select on table auth.users to postgres with grant option;
-- What Supabase Auth creates later is postgres's to use as well.
alter default privileges for role supabase_auth_admin in schema auth grant all on tables to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on sequences to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on routines to postgres;

create or replace function auth.uid()
returns uuid
language sql stable
as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';

create or replace function auth.role()
returns text
language sql stable
as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';

create or replace function auth.email()
returns text
language sql stable
as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

create or replace function auth.jwt()
returns jsonb
language sql stable
as $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

comment on function auth.jwt() is 'The claims of the current request''s JWT (request.jwt.claims), as jsonb.';

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;

-- The four functions stay executable by PUBLIC (Postgres' default for functions), as on Supabase:
-- policies call them on behalf of every role.
