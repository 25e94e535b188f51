-- The inbox of Shopify webhook deliveries. The receiver verifies the HMAC, records the delivery
-- here (public.accept_shopify_webhooks) and answers at once; processing runs from the retry
-- queue. X-Shopify-Webhook-Id is unique per delivery, so a redelivery finds its row and does
-- nothing. The body is kept only until it
-- has been processed: by then its data lives in the domain tables, and personal data should not
-- linger in a log.

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
