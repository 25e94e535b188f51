-- The inbox of Shopify webhook deliveries. The receiver verifies the HMAC, records the delivery
-- here (public.accept_shopify_webhooks) and answers at once; processing runs from the retry
-- queue. X-Shopify-Webhook-Id is unique per delivery, so a redelivery finds its row and does
-- nothing. The body is kept only until it has been processed: by then its data lives in the
-- domain tables, and personal data should not linger in a log. Handled rows are pruned after a
-- while (45_shopify_webhook_retention.sql).
--
-- Intake: the receiver hands verified deliveries over in batches (the deliveries that arrived
-- while the previous batch was being written): one statement finds each shop's owner
-- (40_shopify_shops.sql), records each delivery once and queues its processing, so it answers
-- well inside Shopify's five seconds and a burst costs one commit, not one per delivery.
--
-- Processing dispatches on the topic in one transaction with the domain change, so a retried
-- item never applies a delivery twice. Privacy topics are acted on whatever the connection
-- (44_shopify_compliance.sql). Everything else is applied only from the shop the account holds
-- now: a delivery from a shop it switched away from or disconnected must neither reach its
-- tables nor (app/uninstalled) disconnect its current shop, and an app/uninstalled sent before the
-- current connection was made (an uninstall and reinstall, processed late) must not delete the
-- fresh token. Orders and customers are stamped with the shop they came from, so shop/redact can
-- delete exactly that shop's rows.

create table public.shopify_webhook_events (
  id uuid primary key default gen_random_uuid(),
  -- Null when no connected user owns the shop (answered 200 and recorded as such).
  user_id uuid references auth.users (id) on delete cascade,
  shop_domain text not null,
  topic text not null,
  webhook_id text not null
  constraint shopify_webhook_events_webhook_id_key unique,
  event_id text,
  triggered_at timestamptz,
  api_version text,
  payload jsonb,
  status text not null default 'received'
  constraint shopify_webhook_events_status_valid
  check (status in ('received', 'processed', 'ignored', 'unknown_shop', 'failed')),
  error text,
  received_at timestamptz not null default now(),
  processed_at timestamptz
);

comment on table public.shopify_webhook_events is
'Inbox of verified Shopify webhook deliveries, idempotent on X-Shopify-Webhook-Id; bodies dropped once processed.';

create index shopify_webhook_events_user_id_received_at_idx
on public.shopify_webhook_events (user_id, received_at desc);

alter table public.shopify_webhook_events enable row level security;

create policy shopify_webhook_events_select_own on public.shopify_webhook_events
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_webhook_events from anon, authenticated, service_role;
grant select on table public.shopify_webhook_events to authenticated;
grant select, insert, update, delete on table public.shopify_webhook_events to service_role;

create function public.finish_shopify_webhook(p_event_row_id uuid, p_status text, p_error text default null)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_status not in ('processed', 'ignored', 'failed') then
    raise exception 'finish_shopify_webhook: status must be processed, ignored or failed, not %', p_status
      using errcode = '22023';
  end if;
  update public.shopify_webhook_events
  set
    status = p_status,
    error = p_error,
    processed_at = pg_catalog.now(),
    -- A failed body stays for the operator; a handled one has done its job.
    payload = case when p_status = 'failed' then payload end
  where id = p_event_row_id;
  if not found then
    raise exception 'finish_shopify_webhook: no event %', p_event_row_id using errcode = 'P0002';
  end if;
end
$$;

comment on function public.finish_shopify_webhook(uuid, text, text) is
'Marks an inbox event processed, ignored or failed; drops the body unless it failed.';

revoke all on function public.finish_shopify_webhook(uuid, text, text) from public, anon, authenticated;
grant execute on function public.finish_shopify_webhook(uuid, text, text) to service_role;

create function public.accept_shopify_webhooks(p_deliveries jsonb)
returns text[]
language plpgsql
set search_path = ''
as $$
declare
  statuses text [];
begin
  if pg_catalog.jsonb_typeof(p_deliveries) is distinct from 'array' then
    raise exception 'accept_shopify_webhooks: an array of deliveries is required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.jsonb_array_elements(p_deliveries) as d
    where
      coalesce(pg_catalog.btrim(d ->> 'webhook_id'), '') = ''
      or coalesce(pg_catalog.btrim(d ->> 'topic'), '') = ''
      or coalesce(pg_catalog.btrim(d ->> 'shop_domain'), '') = ''
  ) then
    raise exception 'accept_shopify_webhooks: every delivery needs webhook_id, topic and shop_domain'
      using errcode = '22023';
  end if;

  with delivery as (
    select
      d.ord,
      d.webhook_id,
      d.topic,
      d.event_id,
      d.triggered_at,
      d.api_version,
      d.payload,
      pg_catalog.lower(d.shop_domain) as shop_domain,
      s.user_id as owner_id,
      -- A webhook id repeated inside one batch counts once, like a redelivery.
      pg_catalog.row_number() over (partition by d.webhook_id order by d.ord) = 1 as first_of_id
    from rows from (
      pg_catalog.jsonb_to_recordset(p_deliveries) as (
        webhook_id text, topic text, shop_domain text, event_id text, triggered_at timestamptz,
        api_version text, payload jsonb
      )
    ) with ordinality as d (webhook_id, topic, shop_domain, event_id, triggered_at, api_version, payload, ord)
    left join public.shopify_shops as s on pg_catalog.lower(d.shop_domain) = s.shop_domain
  ),

  recorded as (
    insert into public.shopify_webhook_events as e (
      user_id, shop_domain, topic, webhook_id, event_id, triggered_at, api_version, payload, status
    )
    select
      d.owner_id, d.shop_domain, d.topic, d.webhook_id, d.event_id, d.triggered_at, d.api_version,
      case when d.owner_id is not null then d.payload end,
      case when d.owner_id is null then 'unknown_shop' else 'received' end
    from delivery as d
    where d.first_of_id
    on conflict on constraint shopify_webhook_events_webhook_id_key do nothing
    returning e.id, e.webhook_id, e.user_id
  ),

  queued as (
    insert into public.retry_queue (user_id, operation_type, payload, reference_id, reference_table)
    select r.user_id, 'shopify.process_webhook', pg_catalog.jsonb_build_object('event_id', r.id), r.id,
      'shopify_webhook_events'
    from recorded as r
    where r.user_id is not null
    returning 1
  )

  select pg_catalog.array_agg(
    case
      when not d.first_of_id or r.webhook_id is null then 'duplicate'
      when d.owner_id is null then 'unknown_shop'
      else 'accepted'
    end
    order by d.ord
  )
  into statuses
  from delivery as d
  left join recorded as r on d.first_of_id and d.webhook_id = r.webhook_id;

  -- One wake-up per batch (NOTIFY serialises committing transactions; a batch pays it once).
  if 'accepted' = any(statuses) then
    perform pg_catalog.pg_notify('retry_queue', '');
  end if;
  return statuses;
end
$$;

comment on function public.accept_shopify_webhooks(jsonb) is
'Records verified deliveries once each (by webhook id) and queues their processing; statuses in order.';

revoke all on function public.accept_shopify_webhooks(jsonb) from public, anon, authenticated;
grant execute on function public.accept_shopify_webhooks(jsonb) to service_role;

create function public.shopify_app_uninstalled(p_user_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  -- The token died with the uninstall: nothing remote is left to clean up.
  perform public.delete_credentials(p_user_id, 'shopify');
  delete from public.shopify_webhooks as w where w.user_id = p_user_id;
  update public.integrations as i
  set
    status = 'disconnected',
    disconnected_at = pg_catalog.now(),
    token_expires_at = null,
    last_error = null,
    last_error_at = null
  where i.user_id = p_user_id and i.provider = 'shopify';
  perform public.log_activity(
    p_user_id, 'integration_disconnected', '{"provider": "shopify", "reason": "app_uninstalled"}', true, 'settings'
  );
end
$$;

comment on function public.shopify_app_uninstalled(uuid) is
'app/uninstalled: integration disconnected, credentials and subscription rows deleted, activity logged.';

revoke all on function public.shopify_app_uninstalled(uuid) from public, anon, authenticated;
grant execute on function public.shopify_app_uninstalled(uuid) to service_role;

create function public.process_shopify_webhook(p_event_row_id uuid)
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
  elsif event.topic in (
    'products/create', 'products/update', 'products/delete',
    'collections/create', 'collections/update', 'collections/delete'
  ) then
    outcome := public.apply_shopify_catalog_webhook(event.user_id, event.shop_domain, event.topic, event.payload);
  elsif event.topic = 'bulk_operations/finish' then
    outcome := public.record_shopify_bulk_finish(event.user_id, event.shop_domain, event.payload);
  end if;
  perform public.finish_shopify_webhook(p_event_row_id, case when outcome is null then 'ignored' else 'processed' end);
  return coalesce(outcome, 'ignored');
end
$$;

comment on function public.process_shopify_webhook(uuid) is
'Applies a recorded delivery by topic: privacy requests always; orders, customers (stamped with '
'their shop), products, collections, bulk_operations/finish and app/uninstalled only from the shop '
'the account holds (an uninstall older than the connection is ignored); marks it processed or ignored.';

revoke all on function public.process_shopify_webhook(uuid) from public, anon, authenticated;
grant execute on function public.process_shopify_webhook(uuid) to service_role;
