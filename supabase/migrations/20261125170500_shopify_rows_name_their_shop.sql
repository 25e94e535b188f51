-- Found in review:
-- - Orders and customers did not say which shop they came from, so shop/redact for a shop an
--   account held before (it arrives 48 hours after that shop's uninstall) deleted every order
--   and customer of the account, its current shop's included. Rows now name their shop, stamped
--   when a delivery is applied, and shop/redact deletes only that shop's. Rows from before this
--   migration (no shop) go with a redaction only when the account holds no other shop.
-- - shop/redact kept the person in earlier data requests' compiled results, and deleted waiting
--   deliveries but left their queue items, which then failed attempt after attempt.
-- - Deliveries from a shop the account no longer holds (it switched shops, or disconnected) were
--   applied to its tables, and that shop's app/uninstalled disconnected the account's current
--   shop. An app/uninstalled sent before the current connection was made (an uninstall and
--   reinstall, processed late) deleted the fresh token.

alter table public.customer_orders add column shop_domain text;
alter table public.customers add column shop_domain text;

comment on column public.customer_orders.shop_domain is
'The Shopify shop the order came from (null: recorded before shops were tracked).';
comment on column public.customers.shop_domain is
'The Shopify shop the customer came from (null: recorded before shops were tracked).';

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
      else 'redacted ' || public.redact_shopify_shop(event.user_id, event.shop_domain, event.payload)
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

  if event.topic in ('orders/create', 'orders/updated') then
    outcome := public.upsert_shopify_order(event.user_id, event.payload);
    update public.customer_orders as o
    set shop_domain = event.shop_domain
    where
      o.user_id = event.user_id
      and o.shopify_order_id = event.payload ->> 'id'
      and o.shop_domain is distinct from event.shop_domain;
    update public.customers as c
    set shop_domain = event.shop_domain
    where
      c.user_id = event.user_id
      and c.shopify_customer_id = event.payload -> 'customer' ->> 'id'
      and c.shop_domain is distinct from event.shop_domain;
  elsif event.topic in ('customers/create', 'customers/update') then
    outcome := public.upsert_shopify_customer(event.user_id, event.payload);
    update public.customers as c
    set shop_domain = event.shop_domain
    where
      c.user_id = event.user_id
      and c.shopify_customer_id = event.payload ->> 'id'
      and c.shop_domain is distinct from event.shop_domain;
  end if;
  perform public.finish_shopify_webhook(p_event_row_id, case when outcome is null then 'ignored' else 'processed' end);
  return coalesce(outcome, 'ignored');
end
$$;

comment on function public.process_shopify_webhook(uuid) is
'Applies a recorded delivery by topic: privacy requests always; orders, customers (stamped with '
'their shop) and app/uninstalled only from the shop the account holds (an uninstall older than '
'the connection is ignored); marks it processed or ignored.';

drop function public.redact_shopify_shop(uuid, jsonb);

create function public.redact_shopify_shop(p_user_id uuid, p_shop_domain text, p_payload jsonb)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  shop text := pg_catalog.lower(p_shop_domain);
  other_shop_held boolean;
  orders_deleted integer;
  customers_deleted integer;
  events_deleted integer;
  data_requests_cleared integer;
begin
  if coalesce(shop, '') = '' then
    raise exception 'redact_shopify_shop: the shop is required' using errcode = '22023';
  end if;
  -- Rows from before shops were tracked belong to this shop unless the account now holds another.
  select exists (
    select from public.integrations as i
    where
      i.user_id = p_user_id and i.provider = 'shopify' and i.status <> 'disconnected'
      and i.metadata ->> 'shop_domain' is distinct from shop and i.metadata ->> 'shop_domain' is not null
  ) into other_shop_held;

  delete from public.customer_orders as o
  where o.user_id = p_user_id and (o.shop_domain = shop or (o.shop_domain is null and not other_shop_held));
  get diagnostics orders_deleted = row_count;
  delete from public.customers as c
  where c.user_id = p_user_id and (c.shop_domain = shop or (c.shop_domain is null and not other_shop_held));
  get diagnostics customers_deleted = row_count;
  delete from public.shopify_webhooks as w where w.user_id = p_user_id and w.shop_domain = shop;

  -- Every delivery of the shop but the privacy ones, which are the audit trail of this very
  -- request; the queue items of those still waiting go with them.
  with deleted as (
    delete from public.shopify_webhook_events as e
    where
      e.user_id = p_user_id
      and e.shop_domain = shop
      and e.topic not in ('customers/data_request', 'customers/redact', 'shop/redact')
    returning e.id
  ),

  unqueued as (
    delete from public.retry_queue as q
    where
      q.reference_table = 'shopify_webhook_events'
      and q.status in ('pending', 'failed')
      and q.reference_id in (select d.id from deleted as d)
    returning 1
  )

  select count(*) into events_deleted from deleted;

  update public.shopify_compliance_requests as r
  set result = '{"redacted": true}'::jsonb
  where r.user_id = p_user_id and r.topic = 'customers/data_request' and r.shop_domain = shop;
  get diagnostics data_requests_cleared = row_count;

  return public.record_shopify_compliance(
    p_user_id, 'shop/redact', p_payload,
    pg_catalog.jsonb_build_object(
      'orders_deleted', orders_deleted, 'customers_deleted', customers_deleted,
      'webhook_events_deleted', events_deleted, 'data_requests_cleared', data_requests_cleared
    ),
    'shopify_shop_redacted'
  );
end
$$;

comment on function public.redact_shopify_shop(uuid, text, jsonb) is
'shop/redact: deletes the shop''s orders, customers, subscriptions and deliveries (and the waiting '
'deliveries'' queue items), clears its compiled data requests; audit row with counts. Rows without '
'a shop go too unless the account holds another shop.';

revoke all on function public.redact_shopify_shop(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function public.redact_shopify_shop(uuid, text, jsonb) to service_role;
