-- Shopify's mandatory privacy webhooks: customers/data_request, customers/redact, shop/redact.
-- Each is acted on in one transaction and leaves an audit row that holds no personal data
-- (ids and counts); a data request's compiled data is kept for the shop owner to hand over, until
-- a redaction of that customer or shop clears it.
--
-- A redaction removes the person from waiting inbox bodies without losing the business facts: a
-- waiting order body keeps its figures (a refund, say, must still reach the books) and loses only
-- the buyer; any other waiting body about them (a customers/update would re-create the person) is
-- not applied. shop/redact deletes only the rows of that shop (rows name their shop), and the
-- queue items of the deliveries it deletes.

create table public.shopify_compliance_requests (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  topic text not null
  constraint shopify_compliance_requests_topic_valid
  check (topic in ('customers/data_request', 'customers/redact', 'shop/redact')),
  shop_domain text not null,
  shopify_customer_id text,
  data_request_id text,
  -- Counts of what was redacted; for a data request, the customer's data for the owner.
  result jsonb not null default '{}'::jsonb,
  completed_at timestamptz not null default now()
);

comment on table public.shopify_compliance_requests is
'Audit of Shopify privacy requests acted on: ids and counts, plus a data request''s compiled data for the owner.';

create index shopify_compliance_requests_user_id_completed_at_idx
on public.shopify_compliance_requests (user_id, completed_at desc);

alter table public.shopify_compliance_requests enable row level security;

create policy shopify_compliance_requests_select_own on public.shopify_compliance_requests
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_compliance_requests from anon, authenticated, service_role;
grant select on table public.shopify_compliance_requests to authenticated;
grant select, insert on table public.shopify_compliance_requests to service_role;
-- Redaction reaches the compiled data of earlier data requests (it replaces their result).
grant update (result) on table public.shopify_compliance_requests to service_role;

create function public.record_shopify_compliance(
  p_user_id uuid, p_topic text, p_payload jsonb, p_result jsonb, p_action_type text
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  request_id uuid;
begin
  insert into public.shopify_compliance_requests (
    user_id, topic, shop_domain, shopify_customer_id, data_request_id, result
  )
  values (
    p_user_id, p_topic, coalesce(p_payload ->> 'shop_domain', ''), p_payload -> 'customer' ->> 'id',
    p_payload -> 'data_request' ->> 'id', p_result
  )
  returning id into request_id;
  perform public.log_activity(
    p_user_id, p_action_type, pg_catalog.jsonb_build_object('compliance_request_id', request_id), true, 'compliance'
  );
  return request_id;
end
$$;

comment on function public.record_shopify_compliance(uuid, text, jsonb, jsonb, text) is
'The audit row of a privacy request acted on (ids from the payload, the given result) and its activity entry.';

revoke all on function public.record_shopify_compliance(uuid, text, jsonb, jsonb, text) from public,
anon,
authenticated;
grant execute on function public.record_shopify_compliance(uuid, text, jsonb, jsonb, text) to service_role;

create function public.compile_shopify_customer_data(p_user_id uuid, p_payload jsonb)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  customer_key text := p_payload -> 'customer' ->> 'id';
  compiled jsonb;
begin
  if customer_key is null then
    raise exception 'compile_shopify_customer_data: the payload names no customer' using errcode = '22023';
  end if;
  select pg_catalog.jsonb_build_object(
    'customer', (
      select pg_catalog.to_jsonb(c) - 'user_id'
      from public.customers as c
      where c.user_id = p_user_id and c.shopify_customer_id = customer_key
    ),
    'orders', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(o) - 'user_id' order by o.created_at)
      from public.customer_orders as o
      left join public.customers as c on o.user_id = c.user_id and o.customer_id = c.id
      where
        o.user_id = p_user_id
        and (
          c.shopify_customer_id = customer_key
          or o.shopify_order_id in (
            select pg_catalog.jsonb_array_elements_text(coalesce(p_payload -> 'orders_requested', '[]'))
          )
        )
    ), '[]'::jsonb)
  ) into compiled;
  return public.record_shopify_compliance(
    p_user_id, 'customers/data_request', p_payload, compiled, 'shopify_customer_data_requested'
  );
end
$$;

comment on function public.compile_shopify_customer_data(uuid, jsonb) is
'customers/data_request: compiles the customer''s row and orders for the shop owner; audit row and activity entry.';

revoke all on function public.compile_shopify_customer_data(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.compile_shopify_customer_data(uuid, jsonb) to service_role;

create function public.shopify_order_without_person(p_order jsonb)
returns jsonb
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- The keys of Shopify's order payload that identify or locate the buyer.
  select p_order - array[
    'customer', 'email', 'contact_email', 'phone', 'billing_address', 'shipping_address',
    'client_details', 'browser_ip', 'note', 'note_attributes', 'customer_locale'
  ]
$$;

comment on function public.shopify_order_without_person(jsonb) is
'An order payload without the buyer (customer, email, phone, addresses, client details, notes); its figures kept.';

revoke all on function public.shopify_order_without_person(jsonb) from public, anon, authenticated;
grant execute on function public.shopify_order_without_person(jsonb) to service_role;

create function public.redact_shopify_customer(p_user_id uuid, p_payload jsonb)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  customer_key text := p_payload -> 'customer' ->> 'id';
  redacted_email text;
  orders_redacted integer;
  leads_redacted integer;
  customers_deleted integer;
  bodies_stripped integer;
  bodies_dropped integer;
  data_requests_cleared integer;
begin
  if customer_key is null then
    raise exception 'redact_shopify_customer: the payload names no customer' using errcode = '22023';
  end if;
  select c.email into redacted_email
  from public.customers as c
  where c.user_id = p_user_id and c.shopify_customer_id = customer_key;
  redacted_email := coalesce(redacted_email, nullif(p_payload -> 'customer' ->> 'email', ''));

  -- Orders stay for the books, without the person: the email goes, the link goes below.
  update public.customer_orders as o
  set customer_email = null
  where
    o.user_id = p_user_id
    and (
      o.customer_id in (
        select c.id from public.customers as c
        where c.user_id = p_user_id and c.shopify_customer_id = customer_key
      )
      or o.shopify_order_id in (
        select pg_catalog.jsonb_array_elements_text(coalesce(p_payload -> 'orders_to_redact', '[]'))
      )
      or (redacted_email is not null and pg_catalog.lower(o.customer_email) = pg_catalog.lower(redacted_email))
    );
  get diagnostics orders_redacted = row_count;

  delete from public.customers as c
  where c.user_id = p_user_id and c.shopify_customer_id = customer_key;
  get diagnostics customers_deleted = row_count;

  delete from public.leads as l
  where
    l.user_id = p_user_id
    and redacted_email is not null
    and pg_catalog.lower(l.email) = pg_catalog.lower(redacted_email);
  get diagnostics leads_redacted = row_count;

  -- Waiting order bodies about them keep their figures and lose the person.
  update public.shopify_webhook_events as e
  set payload = public.shopify_order_without_person(e.payload)
  where
    e.user_id = p_user_id
    and e.status = 'received'
    and e.topic like 'orders/%'
    and (
      e.payload -> 'customer' ->> 'id' = customer_key
      or (redacted_email is not null and pg_catalog.lower(e.payload ->> 'email') = pg_catalog.lower(redacted_email))
    );
  get diagnostics bodies_stripped = row_count;

  -- Any other body about them (a customers/update would bring the person back) is not applied;
  -- a failed one loses its body. Privacy deliveries are the audit trail and stay as they are.
  update public.shopify_webhook_events as e
  set
    payload = null,
    status = case when e.status = 'received' then 'ignored' else e.status end,
    error = case when e.status = 'received' then 'the customer was redacted before it was applied' else e.error end,
    processed_at = coalesce(e.processed_at, pg_catalog.now())
  where
    e.user_id = p_user_id
    and e.payload is not null
    and e.topic not in ('customers/data_request', 'customers/redact', 'shop/redact')
    and not (e.status = 'received' and e.topic like 'orders/%')
    and (
      e.payload -> 'customer' ->> 'id' = customer_key
      or (e.topic like 'customers/%' and e.payload ->> 'id' = customer_key)
    );
  get diagnostics bodies_dropped = row_count;

  update public.shopify_compliance_requests as r
  set result = '{"redacted": true}'::jsonb
  where r.user_id = p_user_id and r.topic = 'customers/data_request' and r.shopify_customer_id = customer_key;
  get diagnostics data_requests_cleared = row_count;

  return public.record_shopify_compliance(
    p_user_id, 'customers/redact', p_payload,
    pg_catalog.jsonb_build_object(
      'customers_deleted', customers_deleted, 'orders_redacted', orders_redacted,
      'leads_deleted', leads_redacted, 'webhook_bodies_stripped', bodies_stripped,
      'webhook_bodies_dropped', bodies_dropped, 'data_requests_cleared', data_requests_cleared
    ),
    'shopify_customer_redacted'
  );
end
$$;

comment on function public.redact_shopify_customer(uuid, jsonb) is
'customers/redact: deletes the customer and their leads, strips them from orders, waiting bodies and '
'compiled data requests (waiting order bodies keep their figures); audit row with counts.';

revoke all on function public.redact_shopify_customer(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.redact_shopify_customer(uuid, jsonb) to service_role;

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
  products_deleted integer;
  collections_deleted integer;
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
  -- The catalog (variants and memberships go with their rows) and the imports of the shop.
  delete from public.shopify_products as p where p.user_id = p_user_id and p.shop_domain = shop;
  get diagnostics products_deleted = row_count;
  delete from public.shopify_collections as c where c.user_id = p_user_id and c.shop_domain = shop;
  get diagnostics collections_deleted = row_count;
  delete from public.shopify_catalog_deletions as d where d.user_id = p_user_id and d.shop_domain = shop;
  delete from public.shopify_imports as si where si.user_id = p_user_id and si.shop_domain = shop;

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
      'products_deleted', products_deleted, 'collections_deleted', collections_deleted,
      'webhook_events_deleted', events_deleted, 'data_requests_cleared', data_requests_cleared
    ),
    'shopify_shop_redacted'
  );
end
$$;

comment on function public.redact_shopify_shop(uuid, text, jsonb) is
'shop/redact: deletes the shop''s orders, customers, products, collections, imports, subscriptions '
'and deliveries (and the waiting deliveries'' queue items), clears its compiled data requests; audit '
'row with counts. Orders and customers without a shop go too unless the account holds another shop.';

revoke all on function public.redact_shopify_shop(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function public.redact_shopify_shop(uuid, text, jsonb) to service_role;
