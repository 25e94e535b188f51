-- A shop belongs to one account, and an account holds one shop at a time (found in review):
-- - claim_shopify_shop moved a shop to whoever completed an OAuth flow for it last. A shop
--   owner tricked into opening another account's authorize link would hand their shop's
--   token, and its order and customer webhooks, to that account. A shop that another account
--   holds (a token, and not disconnected) is now refused until it is disconnected there.
-- - Deliveries from a shop the account no longer holds (it switched shops, or disconnected)
--   were applied to its tables, and that shop's app/uninstalled disconnected the account's
--   current shop. An app/uninstalled sent before the current connection was made (an
--   uninstall and reinstall, processed late) deleted the fresh token.

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
      and i.status <> 'disconnected'
      and i.metadata ->> 'shop_domain' = pg_catalog.lower(p_shop_domain)
      -- A token, not a started install: an install that was only begun holds nothing (else
      -- anyone could squat a shop by starting one).
      and exists (
        select from public.integration_credentials as c
        where c.user_id = i.user_id and c.provider = 'shopify' and c.credential_type = 'access_token'
      )
  )
$$;

comment on function public.shopify_shop_held_elsewhere(uuid, text) is
'True when another account holds the shop: its Shopify integration names it, is not '
'disconnected, and has a token (a started install holds nothing). Service only.';

revoke all on function public.shopify_shop_held_elsewhere(uuid, text) from public, anon, authenticated;
grant execute on function public.shopify_shop_held_elsewhere(uuid, text) to service_role;

create or replace function public.claim_shopify_shop(p_user_id uuid, p_shop_domain text)
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

create or replace function public.process_shopify_webhook(p_event_row_id uuid)
returns text
language plpgsql
set search_path = ''
as $$
declare
  event public.shopify_webhook_events%rowtype;
  held_shop text;
  held_since timestamptz;
  outcome text;
begin
  select e.* into event from public.shopify_webhook_events as e where e.id = p_event_row_id for update;
  if not found then
    raise exception 'process_shopify_webhook: no event %', p_event_row_id using errcode = 'P0002';
  end if;
  if event.status <> 'received' then
    return 'already ' || event.status;
  end if;

  -- Privacy requests are acted on whatever the connection: they concern data already held.
  if event.topic in ('customers/data_request', 'customers/redact', 'shop/redact') then
    outcome := case event.topic
      when 'customers/data_request' then 'compiled ' || public.compile_shopify_customer_data(event.user_id, event.payload)
      when 'customers/redact' then 'redacted ' || public.redact_shopify_customer(event.user_id, event.payload)
      else 'redacted ' || public.redact_shopify_shop(event.user_id, event.payload)
    end;
    perform public.finish_shopify_webhook(p_event_row_id, 'processed');
    return outcome;
  end if;

  select i.metadata ->> 'shop_domain', i.connected_at into held_shop, held_since
  from public.integrations as i
  where i.user_id = event.user_id and i.provider = 'shopify' and i.status <> 'disconnected';
  if held_shop is distinct from event.shop_domain then
    perform public.finish_shopify_webhook(p_event_row_id, 'ignored', 'not the shop this account is connected to');
    return 'ignored: not the connected shop';
  end if;

  if event.topic = 'app/uninstalled' then
    if event.triggered_at < held_since then
      perform public.finish_shopify_webhook(p_event_row_id, 'ignored', 'sent before the current connection was made');
      return 'ignored: older than the connection';
    end if;
    perform public.shopify_app_uninstalled(event.user_id);
    perform public.finish_shopify_webhook(p_event_row_id, 'processed');
    return 'disconnected';
  end if;

  outcome := case event.topic
    when 'orders/create' then public.upsert_shopify_order(event.user_id, event.payload)
    when 'orders/updated' then public.upsert_shopify_order(event.user_id, event.payload)
    when 'customers/create' then public.upsert_shopify_customer(event.user_id, event.payload)
    when 'customers/update' then public.upsert_shopify_customer(event.user_id, event.payload)
  end;
  perform public.finish_shopify_webhook(p_event_row_id, case when outcome is null then 'ignored' else 'processed' end);
  return coalesce(outcome, 'ignored');
end
$$;

comment on function public.process_shopify_webhook(uuid) is
'Applies a recorded delivery by topic: privacy requests always; orders, customers and '
'app/uninstalled only from the shop the account holds (an uninstall older than the connection '
'is ignored); marks it processed or ignored.';
