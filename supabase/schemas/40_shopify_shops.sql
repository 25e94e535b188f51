-- Which account a Shopify shop belongs to. A shop belongs to one account, and an account holds
-- one shop at a time. Completing Shopify's OAuth for a shop proves control of it, but a shop that
-- another account holds (a token, and not disconnected) is refused until it is disconnected
-- there: otherwise a shop owner tricked into opening another account's authorize link would hand
-- their shop's token, and its order and customer webhooks, to that account. Deliveries from a
-- shop the account no longer holds are ignored (process_shopify_webhook,
-- 43_shopify_webhook_inbox.sql).

create table public.shopify_shops (
  shop_domain text primary key
  constraint shopify_shops_domain_format check (shop_domain ~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$'),
  user_id uuid not null references auth.users (id) on delete cascade,
  connected_at timestamptz not null default now(),
  -- Shopify's shop.ianaTimezone, read at install (set_shopify_shop_time_zone); null: not known
  -- (a shop connected before it was read, or a zone this Postgres does not know): days are UTC.
  iana_timezone text
  constraint shopify_shops_iana_timezone_shape check (
    iana_timezone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$'
  )
);

comment on table public.shopify_shops is
'Which user a shop belongs to. Outlives a disconnect: shop/redact arrives 48 hours after an uninstall.';

comment on column public.shopify_shops.iana_timezone is
'The shop''s IANA time zone (Shopify''s shop.ianaTimezone); daily_metrics count days in it. Null: UTC.';

create index shopify_shops_user_id_idx on public.shopify_shops (user_id);

alter table public.shopify_shops enable row level security;

create policy shopify_shops_select_own on public.shopify_shops
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_shops from anon, authenticated, service_role;
grant select on table public.shopify_shops to authenticated;
grant select, insert, update, delete on table public.shopify_shops to service_role;

create function public.shopify_held_shop(p_user_id uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select i.metadata ->> 'shop_domain'
  from public.integrations as i
  where
    i.user_id = p_user_id
    and i.provider = 'shopify'
    and i.status <> 'disconnected'
    -- A token, not a started install: an install that was only begun holds nothing (else
    -- anyone could squat a shop by starting one).
    and exists (
      select from public.integration_credentials as c
      where c.user_id = i.user_id and c.provider = 'shopify' and c.credential_type = 'access_token'
    )
$$;

comment on function public.shopify_held_shop(uuid) is
'The shop an account holds: its Shopify integration names it, is not disconnected, and has a '
'token (a started install holds nothing). Null when it holds none. Service only.';

revoke all on function public.shopify_held_shop(uuid) from public, anon, authenticated;
grant execute on function public.shopify_held_shop(uuid) to service_role;

create function public.shopify_shop_held_elsewhere(p_user_id uuid, p_shop_domain text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select from public.integrations as i
    where
      i.provider = 'shopify'
      and i.user_id <> p_user_id
      and public.shopify_held_shop(i.user_id) = pg_catalog.lower(p_shop_domain)
  )
$$;

comment on function public.shopify_shop_held_elsewhere(uuid, text) is
'True when another account holds the shop (shopify_held_shop). Service only.';

revoke all on function public.shopify_shop_held_elsewhere(uuid, text) from public, anon, authenticated;
grant execute on function public.shopify_shop_held_elsewhere(uuid, text) to service_role;

create function public.claim_shopify_shop(p_user_id uuid, p_shop_domain text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if public.shopify_shop_held_elsewhere(p_user_id, p_shop_domain) then
    raise exception 'claim_shopify_shop: % is connected to another account; it must be disconnected there first',
      pg_catalog.lower(p_shop_domain)
      using errcode = '55000';
  end if;
  insert into public.shopify_shops as s (shop_domain, user_id)
  values (pg_catalog.lower(p_shop_domain), p_user_id)
  on conflict (shop_domain) do update set user_id = excluded.user_id, connected_at = pg_catalog.now();
end
$$;

comment on function public.claim_shopify_shop(uuid, text) is
'Records that a user connected a shop (after a verified OAuth callback). 55000 when another '
'account holds the shop; a shop released there (disconnected) moves to the new account.';

revoke all on function public.claim_shopify_shop(uuid, text) from public, anon, authenticated;
grant execute on function public.claim_shopify_shop(uuid, text) to service_role;

-- The shop's time zone, for daily_metrics' days (26_daily_metrics_rollup.sql).

create function public.shopify_shops_sync_time_zone()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- Not on delete: shops are deleted with their user (cascade), whose rows go too.
  if tg_op = 'UPDATE' and new.user_id <> old.user_id then
    perform public.sync_daily_metrics_time_zone(old.user_id);
  end if;
  perform public.sync_daily_metrics_time_zone(new.user_id);
  return null;
end
$$;

comment on function public.shopify_shops_sync_time_zone() is
'Trigger of shopify_shops: a shop claimed, moved or given its time zone may change the zone '
'its users'' days are counted in.';

revoke all on function public.shopify_shops_sync_time_zone() from public, anon, authenticated;

create trigger shopify_shops_sync_time_zone
after insert or update of user_id, connected_at, iana_timezone on public.shopify_shops
for each row execute function public.shopify_shops_sync_time_zone();

create function public.set_shopify_shop_time_zone(p_shop_domain text, p_time_zone text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  known text;
begin
  -- A zone this Postgres does not know (or none) is stored as null: its days are counted in UTC.
  select t.name into known
  from pg_catalog.pg_timezone_names as t
  where
    t.name = p_time_zone
    and p_time_zone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$';
  update public.shopify_shops as s
  set iana_timezone = known
  where s.shop_domain = pg_catalog.lower(p_shop_domain);
  if not found then
    raise exception 'set_shopify_shop_time_zone: no shop %', p_shop_domain using errcode = 'P0002';
  end if;
  return known;
end
$$;

comment on function public.set_shopify_shop_time_zone(text, text) is
'Records a shop''s IANA time zone (Shopify''s shop.ianaTimezone); a zone Postgres does not know is '
'stored as null (UTC). Returns what was stored. P0002 for an unknown shop. Service only.';

revoke all on function public.set_shopify_shop_time_zone(text, text) from public, anon, authenticated;
grant execute on function public.set_shopify_shop_time_zone(text, text) to service_role;
