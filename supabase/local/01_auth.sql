-- The part of Supabase Auth's schema that applications touch, for plain Postgres.
-- Table: supabase/postgres init-scripts/00000000000001-auth-schema.sql plus supabase/auth's later
-- migrations (as a hosted project's schema dump shows them). Functions: supabase/auth
-- 20220224000811_update_auth_functions and 20220531120530_add_auth_jwt_function.
-- Applied on every migrate run, so every statement must be safe to repeat.

create schema if not exists auth;

-- The runner recognises this layer by the comment and re-applies it; a real Supabase project,
-- whose auth schema carries no such comment, is never touched.
comment on schema auth is 'Haven Hub local Supabase compatibility layer';

grant usage on schema auth to anon, authenticated, service_role;

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

create index if not exists users_instance_id_idx on auth.users (instance_id);
create unique index if not exists users_email_partial_key on auth.users (email)
where (is_sso_user = false);
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);

comment on table auth.users is 'Auth: Stores user login data within a secure schema.';

-- As on Supabase: RLS on and no grants, so only the owner (and service work done through
-- SECURITY DEFINER functions) sees users; anon and authenticated cannot read the table.
alter table auth.users enable row level security;
revoke all on table auth.users from public, anon, authenticated, service_role;

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

-- The four functions stay executable by PUBLIC (Postgres' default for functions), as on Supabase:
-- policies call them on behalf of every role.
