-- Two gaps in the privacy topics (20261125130400), found in review (a third, in shop/redact,
-- is closed in 20261125170500 with the shop column it needs):
-- 1. A data request's compiled data (the customer's row and orders, kept for the shop owner)
--    survived customers/redact and shop/redact: the person's data stayed in the audit table.
-- 2. customers/redact emptied every waiting inbox body that named the customer. A waiting
--    orders/updated (a refund, say) then failed for good and never reached the books; a waiting
--    customers/update would have re-created the person. Order bodies now lose only the person
--    (the order's figures still apply); any other waiting body about them is not applied.

grant update (result) on table public.shopify_compliance_requests to service_role;

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

create or replace function public.redact_shopify_customer(p_user_id uuid, p_payload jsonb)
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
