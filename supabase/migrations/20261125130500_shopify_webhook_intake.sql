-- Webhook intake and processing. The receiver hands verified deliveries over in batches (the
-- deliveries that arrived while the previous batch was being written): one statement finds each
-- shop's owner, records each delivery once and queues its processing, so it answers well inside
-- Shopify's five seconds and a burst costs one commit, not one per delivery. Processing
-- dispatches on the topic in one transaction with the domain change, so a retried item never
-- applies a delivery twice.

create table public.shopify_shops (
  shop_domain text primary key
  constraint shopify_shops_domain_format check (shop_domain ~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$'),
  user_id uuid not null references auth.users (id) on delete cascade,
  connected_at timestamptz not null default now()
);

comment on table public.shopify_shops is
'Which user a shop belongs to. Outlives a disconnect: shop/redact arrives 48 hours after an uninstall.';

create index shopify_shops_user_id_idx on public.shopify_shops (user_id);

alter table public.shopify_shops enable row level security;

create policy shopify_shops_select_own on public.shopify_shops
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_shops from anon, authenticated, service_role;
grant select on table public.shopify_shops to authenticated;
grant select, insert, update, delete on table public.shopify_shops to service_role;

create function public.claim_shopify_shop(p_user_id uuid, p_shop_domain text)
returns void
language sql
set search_path = ''
as $$
  -- Completing Shopify's OAuth for a shop proves control of it: the shop moves to that user.
  insert into public.shopify_shops as s (shop_domain, user_id)
  values (pg_catalog.lower(p_shop_domain), p_user_id)
  on conflict (shop_domain) do update set user_id = excluded.user_id, connected_at = pg_catalog.now()
$$;

comment on function public.claim_shopify_shop(uuid, text) is
'Records that a user connected a shop (after a verified OAuth callback); the latest connection owns it.';

revoke all on function public.claim_shopify_shop(uuid, text) from public, anon, authenticated;
grant execute on function public.claim_shopify_shop(uuid, text) to service_role;

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
  outcome text;
begin
  select e.* into event from public.shopify_webhook_events as e where e.id = p_event_row_id for update;
  if not found then
    raise exception 'process_shopify_webhook: no event %', p_event_row_id using errcode = 'P0002';
  end if;
  if event.status <> 'received' then
    return 'already ' || event.status;
  end if;
  outcome := case event.topic
    when 'orders/create' then public.upsert_shopify_order(event.user_id, event.payload)
    when 'orders/updated' then public.upsert_shopify_order(event.user_id, event.payload)
    when 'customers/create' then public.upsert_shopify_customer(event.user_id, event.payload)
    when 'customers/update' then public.upsert_shopify_customer(event.user_id, event.payload)
    when 'customers/data_request' then 'compiled ' || public.compile_shopify_customer_data(event.user_id, event.payload)
    when 'customers/redact' then 'redacted ' || public.redact_shopify_customer(event.user_id, event.payload)
    when 'shop/redact' then 'redacted ' || public.redact_shopify_shop(event.user_id, event.payload)
  end;
  if event.topic = 'app/uninstalled' then
    perform public.shopify_app_uninstalled(event.user_id);
    outcome := 'disconnected';
  end if;
  perform public.finish_shopify_webhook(p_event_row_id, case when outcome is null then 'ignored' else 'processed' end);
  return coalesce(outcome, 'ignored');
end
$$;

comment on function public.process_shopify_webhook(uuid) is
'Applies a recorded delivery by topic (orders, customers, privacy, uninstall) and marks it processed or ignored.';

revoke all on function public.process_shopify_webhook(uuid) from public, anon, authenticated;
grant execute on function public.process_shopify_webhook(uuid) to service_role;
