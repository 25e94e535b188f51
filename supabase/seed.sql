-- Demo data for local runs (`haven db reset`, `supabase db reset`). Safe to load twice.
-- The demo user signs in as demo@haven.local / haven-demo on a Supabase stack; locally,
-- `haven dev-token --email demo@haven.local` prints a token for it.

insert into auth.users (
  instance_id,
  id,
  aud,
  role,
  email,
  encrypted_password,
  email_confirmed_at,
  -- Supabase Auth scans these into Go strings, so they must be '' rather than null.
  confirmation_token,
  recovery_token,
  email_change_token_new,
  email_change,
  raw_app_meta_data,
  raw_user_meta_data,
  created_at,
  updated_at
)
values (
  '00000000-0000-0000-0000-000000000000',
  'a0000000-0000-4000-8000-000000000001',
  'authenticated',
  'authenticated',
  'demo@haven.local',
  extensions.crypt('haven-demo', extensions.gen_salt('bf')),
  now(),
  '',
  '',
  '',
  '',
  '{"provider": "email", "providers": ["email"]}',
  '{"full_name": "Demo Operator"}',
  now(),
  now()
)
on conflict do nothing;

-- Password sign-in on a Supabase stack also needs an identity; the local layer has no such table.
do $$
begin
  if pg_catalog.to_regclass('auth.identities') is not null then
    insert into auth.identities (
      id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
    )
    values (
      'a0000000-0000-4000-8000-000000000001',
      'a0000000-0000-4000-8000-000000000001',
      'a0000000-0000-4000-8000-000000000001',
      '{"sub": "a0000000-0000-4000-8000-000000000001", "email": "demo@haven.local"}',
      'email',
      now(),
      now(),
      now()
    )
    on conflict do nothing;
  end if;
end
$$;

insert into public.activity_log (id, user_id, action_type, details, module)
values (
  'a0000000-0000-4000-8000-0000000000a1',
  'a0000000-0000-4000-8000-000000000001',
  'account_created',
  '{"source": "seed"}',
  'setup'
)
on conflict do nothing;
