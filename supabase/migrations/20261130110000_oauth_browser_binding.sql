-- Issue 13: OAuth bound to the browser that began it (supabase/schemas/16_oauth_states.sql).
-- A console flow carries the hash of its console session; a JSON API flow's callback holds the
-- code until the user who began it confirms.

alter table public.oauth_states
add column browser_binding bytea,
add column pending_code text,
add column confirmation_hash bytea,
add column confirm_by timestamptz;

alter table public.oauth_states
add constraint oauth_states_confirmation_hash_key unique (confirmation_hash),
add constraint oauth_states_pending_only_unbound check (
  browser_binding is null or (pending_code is null and confirmation_hash is null)
),
add constraint oauth_states_pending_has_deadline check (pending_code is null or confirm_by is not null);

comment on table public.oauth_states is
'OAuth states in flight: SHA-256 of the state, bound to user, provider, shop and (console) the '
'browser session; 10-minute expiry, single use; a JSON API flow''s code held until its user '
'confirms. Service only, through begin_oauth / consume_oauth_state / await_oauth_confirmation / '
'take_oauth_confirmation.';

drop function public.begin_oauth(uuid, text, text);
drop function public.consume_oauth_state(text, text, text);

create function public.begin_oauth(
  p_user_id uuid,
  p_provider text,
  p_shop text default null,
  p_browser_binding bytea default null
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
  if p_browser_binding is not null and pg_catalog.length(p_browser_binding) <> 32 then
    raise exception 'begin_oauth: the browser binding is a SHA-256 (32 bytes)' using errcode = '22023';
  end if;

  perform public.prune_oauth_states();
  begin
    insert into public.oauth_states (state_hash, user_id, provider, shop_domain, browser_binding)
    values (
      pg_catalog.sha256(pg_catalog.convert_to(raw_state, 'utf8')), p_user_id, p_provider, shop,
      p_browser_binding
    );
  exception
    when foreign_key_violation then
      raise exception 'begin_oauth: user % not found', p_user_id using errcode = 'P0002';
  end;
  return raw_state;
end
$$;

comment on function public.begin_oauth(uuid, text, text, bytea) is
'Starts an OAuth flow: stores the hash of a new random state bound to user, provider, shop '
'(Shopify) and the console session''s hash (null: the JSON API), and returns the raw state. Service only.';

revoke all on function public.begin_oauth(uuid, text, text, bytea) from public, anon, authenticated;
grant execute on function public.begin_oauth(uuid, text, text, bytea) to service_role;

create function public.consume_oauth_state(
  p_provider text,
  p_state text,
  p_shop text default null
)
returns table (state_id uuid, user_id uuid, browser_binding bytea)
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
  return query select found_state.id, found_state.user_id, found_state.browser_binding;
end
$$;

comment on function public.consume_oauth_state(text, text, text) is
'Consumes an OAuth state once; returns its id, the user who began the flow and the browser binding '
'(null: begun through the JSON API). 22023 with DETAIL unknown, other_provider, other_shop, used or '
'expired. Service only.';

revoke all on function public.consume_oauth_state(text, text, text) from public, anon, authenticated;
grant execute on function public.consume_oauth_state(text, text, text) to service_role;

create function public.await_oauth_confirmation(p_state_id uuid, p_code text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  raw_confirmation text := pg_catalog.encode(extensions.gen_random_bytes(32), 'hex');
begin
  if p_code is null or p_code = '' then
    raise exception 'await_oauth_confirmation: a code is required' using errcode = '22023';
  end if;
  update public.oauth_states as o
  set pending_code = p_code,
    confirmation_hash = pg_catalog.sha256(pg_catalog.convert_to(raw_confirmation, 'utf8')),
    confirm_by = pg_catalog.now() + interval '10 minutes'
  where o.id = p_state_id and o.used_at is not null and o.browser_binding is null
    and o.confirmation_hash is null;
  if not found then
    raise exception 'await_oauth_confirmation: no consumed, unbound state %', p_state_id
      using errcode = '22023', detail = 'unknown';
  end if;
  return raw_confirmation;
end
$$;

comment on function public.await_oauth_confirmation(uuid, text) is
'A JSON API flow''s callback: keeps the provider''s code on its consumed state under the hash of a '
'new one-time confirmation id (returned raw, for the front end) for 10 minutes. Service only.';

revoke all on function public.await_oauth_confirmation(uuid, text) from public, anon, authenticated;
grant execute on function public.await_oauth_confirmation(uuid, text) to service_role;

create function public.take_oauth_confirmation(p_provider text, p_confirmation text, p_user_id uuid)
returns table (code text, shop_domain text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  found_state public.oauth_states;
begin
  select o.* into found_state
  from public.oauth_states as o
  where o.confirmation_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_confirmation, ''), 'utf8'))
  for update;

  if not found then
    raise exception 'oauth confirmation unknown' using errcode = '22023', detail = 'unknown';
  end if;
  if found_state.provider is distinct from p_provider then
    raise exception 'oauth confirmation was issued for another provider'
      using errcode = '22023', detail = 'other_provider';
  end if;
  -- The user who began the flow, and nobody else, may finish it.
  if found_state.user_id is distinct from p_user_id then
    raise exception 'oauth confirmation belongs to another account'
      using errcode = '22023', detail = 'other_user';
  end if;
  if found_state.pending_code is null then
    raise exception 'oauth confirmation already used' using errcode = '22023', detail = 'used';
  end if;
  if found_state.confirm_by <= pg_catalog.now() then
    raise exception 'oauth confirmation expired' using errcode = '22023', detail = 'expired';
  end if;

  update public.oauth_states as o set pending_code = null where o.id = found_state.id;
  return query select found_state.pending_code, found_state.shop_domain;
end
$$;

comment on function public.take_oauth_confirmation(text, text, uuid) is
'The user who began a JSON API flow confirms it: returns the held code (once) and the shop. 22023 '
'with DETAIL unknown, other_provider, other_user, used or expired. Service only.';

revoke all on function public.take_oauth_confirmation(text, text, uuid) from public, anon, authenticated;
grant execute on function public.take_oauth_confirmation(text, text, uuid) to service_role;
