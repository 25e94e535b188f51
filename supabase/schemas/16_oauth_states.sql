-- OAuth `state` values in flight (Shopify, Pinterest). Only a SHA-256 of each state is kept, so
-- a leaked table cannot be replayed. A state is bound to the user who began the flow, the
-- provider and (Shopify) the shop; it lives 10 minutes and is consumed once. The callback learns
-- the user from the state, so it needs no session cookie. Service only.

create table public.oauth_states (
  id uuid primary key default gen_random_uuid(),
  state_hash bytea not null
  constraint oauth_states_state_hash_key unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  provider text not null
  constraint oauth_states_provider_oauth check (provider in ('shopify', 'pinterest')),
  -- Shopify's flow is per shop; Pinterest's is not.
  shop_domain text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '10 minutes',
  used_at timestamptz,
  constraint oauth_states_shop_iff_shopify check ((provider = 'shopify') = (shop_domain is not null))
);

comment on table public.oauth_states is
'OAuth states in flight: SHA-256 of the state, bound to user, provider and shop; 10-minute expiry, '
'single use. Service only, through begin_oauth / consume_oauth_state.';

create index oauth_states_user_id_idx on public.oauth_states (user_id);
create index oauth_states_expires_at_idx on public.oauth_states (expires_at);

alter table public.oauth_states enable row level security;

-- No user access (and no grant): only the SECURITY DEFINER functions below touch the table.
create policy oauth_states_no_user_access on public.oauth_states
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.oauth_states from anon, authenticated, service_role;

create function public.prune_oauth_states()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  pruned integer;
begin
  -- Kept an hour past expiry so a late callback is told "expired", not "unknown".
  delete from public.oauth_states as o
  where o.expires_at < pg_catalog.now() - interval '1 hour';
  get diagnostics pruned = row_count;
  return pruned;
end
$$;

comment on function public.prune_oauth_states() is
'Deletes OAuth states that expired more than an hour ago; returns how many. Service only (begin_oauth calls it too).';

revoke all on function public.prune_oauth_states() from public, anon, authenticated;
grant execute on function public.prune_oauth_states() to service_role;

create function public.begin_oauth(
  p_user_id uuid,
  p_provider text,
  p_shop text default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  raw_state text := pg_catalog.encode(extensions.gen_random_bytes(32), 'hex');
  shop text := pg_catalog.lower(pg_catalog.btrim(p_shop));
begin
  if p_user_id is null then
    raise exception 'begin_oauth: p_user_id is required' using errcode = '22023';
  end if;
  if p_provider is null or p_provider not in ('shopify', 'pinterest') then
    raise exception 'begin_oauth: % is not an OAuth provider', coalesce(p_provider, 'null')
      using errcode = '22023';
  end if;
  if p_provider = 'shopify' and (shop is null or shop !~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$') then
    raise exception 'begin_oauth: shopify needs a shop domain like example.myshopify.com'
      using errcode = '22023';
  end if;
  if p_provider <> 'shopify' and shop is not null then
    raise exception 'begin_oauth: % takes no shop', p_provider using errcode = '22023';
  end if;

  perform public.prune_oauth_states();
  begin
    insert into public.oauth_states (state_hash, user_id, provider, shop_domain)
    values (
      pg_catalog.sha256(pg_catalog.convert_to(raw_state, 'utf8')), p_user_id, p_provider, shop
    );
  exception
    when foreign_key_violation then
      raise exception 'begin_oauth: user % not found', p_user_id using errcode = 'P0002';
  end;
  return raw_state;
end
$$;

comment on function public.begin_oauth(uuid, text, text) is
'Starts an OAuth flow: stores the hash of a new random state bound to user, provider and shop '
'(Shopify), and returns the raw state. Service only.';

revoke all on function public.begin_oauth(uuid, text, text) from public, anon, authenticated;
grant execute on function public.begin_oauth(uuid, text, text) to service_role;

create function public.consume_oauth_state(
  p_provider text,
  p_state text,
  p_shop text default null
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  found_state public.oauth_states;
begin
  -- The lookup is by hash: timing reveals nothing about a stored state.
  select o.* into found_state
  from public.oauth_states as o
  where o.state_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_state, ''), 'utf8'))
  for update;

  -- DETAIL carries a stable reason for callers; the message is for people.
  if not found then
    raise exception 'oauth state unknown' using errcode = '22023', detail = 'unknown';
  end if;
  if found_state.provider is distinct from p_provider then
    raise exception 'oauth state was issued for another provider'
      using errcode = '22023', detail = 'other_provider';
  end if;
  if found_state.shop_domain is distinct from pg_catalog.lower(pg_catalog.btrim(p_shop)) then
    raise exception 'oauth state was issued for another shop'
      using errcode = '22023', detail = 'other_shop';
  end if;
  if found_state.used_at is not null then
    raise exception 'oauth state already used' using errcode = '22023', detail = 'used';
  end if;
  if found_state.expires_at <= pg_catalog.now() then
    raise exception 'oauth state expired' using errcode = '22023', detail = 'expired';
  end if;

  update public.oauth_states as o
  set used_at = pg_catalog.now()
  where o.id = found_state.id;
  return found_state.user_id;
end
$$;

comment on function public.consume_oauth_state(text, text, text) is
'Consumes an OAuth state once and returns the user who began the flow. 22023 with DETAIL unknown, '
'other_provider, other_shop, used or expired. Service only.';

revoke all on function public.consume_oauth_state(text, text, text) from public, anon, authenticated;
grant execute on function public.consume_oauth_state(text, text, text) to service_role;
