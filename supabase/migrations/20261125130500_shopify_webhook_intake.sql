-- Webhook intake and processing. The receiver makes one call per verified delivery: find the
-- shop's owner, record the delivery once, and queue its processing, so it answers well inside
-- Shopify's five seconds. Processing dispatches on the topic in one transaction with the
-- domain change, so a retried item never applies a delivery twice.

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

create function public.shopify_shop_owner(p_shop_domain text)
returns uuid
language sql
stable
set search_path = ''
as $$
  select s.user_id from public.shopify_shops as s where s.shop_domain = pg_catalog.lower(p_shop_domain)
$$;

comment on function public.shopify_shop_owner(text) is
'The user a shop domain belongs to, or null for a shop nobody connected.';

revoke all on function public.shopify_shop_owner(text) from public, anon, authenticated;
grant execute on function public.shopify_shop_owner(text) to service_role;

create function public.accept_shopify_webhook(
  p_shop_domain text,
  p_topic text,
  p_webhook_id text,
  p_event_id text,
  p_triggered_at timestamptz,
  p_api_version text,
  p_payload jsonb
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  owner_id uuid := public.shopify_shop_owner(p_shop_domain);
  recorded record;
begin
  select r.event_row_id, r.is_new into recorded
  from public.record_shopify_webhook(
    owner_id, pg_catalog.lower(p_shop_domain), p_topic, p_webhook_id, p_event_id, p_triggered_at,
    p_api_version, p_payload
  ) as r;
  if not recorded.is_new then
    return 'duplicate';
  end if;
  if owner_id is null then
    return 'unknown_shop';
  end if;
  perform public.queue_for_retry(
    owner_id, 'shopify.process_webhook', pg_catalog.jsonb_build_object('event_id', recorded.event_row_id),
    null, recorded.event_row_id, 'shopify_webhook_events'
  );
  return 'accepted';
end
$$;

comment on function public.accept_shopify_webhook(text, text, text, text, timestamptz, text, jsonb) is
'One call per verified delivery: records it once and queues its processing; accepted, duplicate or unknown_shop.';

revoke all on function public.accept_shopify_webhook(text, text, text, text, timestamptz, text, jsonb)
from public, anon, authenticated;
grant execute on function public.accept_shopify_webhook(text, text, text, text, timestamptz, text, jsonb)
to service_role;

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
