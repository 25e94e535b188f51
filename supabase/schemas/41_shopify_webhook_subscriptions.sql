-- The webhook subscriptions this app holds on each connected shop, as Shopify's GraphQL API
-- answered them. Registration runs as a queued operation, so a topic that failed is retried
-- rather than forgotten; one subscription per topic per user keeps re-registration idempotent.

create table public.shopify_webhooks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text not null,
  -- Shopify's gid, e.g. gid://shopify/WebhookSubscription/123.
  shopify_webhook_id text not null,
  topic text not null
  constraint shopify_webhooks_topic_format check (topic ~ '^[a-z_]+/[a-z_]+$'),
  address text not null,
  created_at timestamptz not null default now(),
  constraint shopify_webhooks_user_id_topic_key unique (user_id, topic)
);

comment on table public.shopify_webhooks is
'Webhook subscriptions registered on a user''s shop (one per topic), kept to delete them on disconnect.';

alter table public.shopify_webhooks enable row level security;

create policy shopify_webhooks_select_own on public.shopify_webhooks
for select to authenticated
using (user_id = (select auth.uid()));

-- Users read what is registered; only the service (registration, uninstall) writes.
revoke all on table public.shopify_webhooks from anon, authenticated, service_role;
grant select on table public.shopify_webhooks to authenticated;
grant select, insert, update, delete on table public.shopify_webhooks to service_role;
