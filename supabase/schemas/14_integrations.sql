-- One row per user and provider: the connection's status and its public metadata. Secrets never
-- live here (they are in Vault, mapped by public.integration_credentials).
--
-- Users read their own rows. They do not write them: connecting, the OAuth callback and
-- disconnecting also touch Vault and the provider, so only the service (service_role) writes,
-- in the same transaction as the credentials.

create function public.integration_providers()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['shopify', 'pinterest', 'klaviyo', 'dynamic_mockups', 'resend', 'sky_pilot']::text[]
$$;

comment on function public.integration_providers() is
'Every provider Haven Hub connects to. The one list the CHECK and the credential functions read.';

-- Pure; the CHECK below calls it with the writing role's rights.
revoke all on function public.integration_providers() from public, anon;
grant execute on function public.integration_providers() to authenticated, service_role;

create table public.integrations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  provider text not null
  constraint integrations_provider_known check (provider = any(public.integration_providers())),
  status text not null default 'disconnected'
  constraint integrations_status_known check (
    status in ('disconnected', 'connecting', 'connected', 'error', 'expired')
  ),
  -- Public facts about the connection (shop_domain, list_count, ...), never a secret.
  metadata jsonb not null default '{}'::jsonb
  constraint integrations_metadata_is_object check (jsonb_typeof(metadata) = 'object'),
  last_error text,
  last_error_at timestamptz,
  token_expires_at timestamptz,
  last_refreshed_at timestamptz,
  connected_at timestamptz,
  disconnected_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint integrations_user_id_provider_key unique (user_id, provider)
);

comment on table public.integrations is
'One row per user and provider: connection status and public metadata. Secrets live in Vault '
'(integration_credentials). Written by the service only.';

-- The unique constraint's index (user_id, provider) serves the foreign key and per-user reads,
-- so the plan's separate index on user_id alone would only slow writes down.
create index integrations_user_id_status_idx
on public.integrations (user_id, status);

-- The token-refresh job's scan: connected rows whose token expires soonest.
create index integrations_token_expires_at_idx
on public.integrations (token_expires_at)
where status = 'connected' and token_expires_at is not null;

create trigger integrations_set_updated_at
before update on public.integrations
for each row execute function public.update_updated_at_column();

alter table public.integrations enable row level security;

create policy integrations_select_own on public.integrations
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.integrations from anon, authenticated, service_role;
grant select on table public.integrations to authenticated;
grant select, insert, update, delete on table public.integrations to service_role;
