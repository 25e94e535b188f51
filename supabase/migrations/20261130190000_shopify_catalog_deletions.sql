-- A deleted product or collection stays deleted: products/delete and collections/delete record
-- the deletion, and the upserts (webhook and import alike) skip a deleted id, so neither a late
-- update nor an import read before the delete brings it back. shop/redact removes the records
-- with the shop's catalog. Deletes and the import's catalog loads of a user take turns
-- (lock_shopify_catalog), so a delete running while an import writes the same product wins too.

create table public.shopify_catalog_deletions (
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null
  constraint shopify_catalog_deletions_kind_valid check (kind in ('product', 'collection')),
  shopify_id text not null
  constraint shopify_catalog_deletions_shopify_id_not_blank check (btrim(shopify_id) <> ''),
  -- The shop the deletion came from; shop/redact deletes by it.
  shop_domain text,
  deleted_at timestamptz not null default now(),
  primary key (user_id, kind, shopify_id)
);

comment on table public.shopify_catalog_deletions is
'Products and collections a products/delete or collections/delete webhook removed. Shopify never '
'reuses an id, so any later write of one is stale (a late update, an import read before the delete) '
'and the upserts skip it. Written by the service.';

alter table public.shopify_catalog_deletions enable row level security;

create policy shopify_catalog_deletions_select_own on public.shopify_catalog_deletions
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_catalog_deletions from anon, authenticated, service_role;
grant select on table public.shopify_catalog_deletions to authenticated;
grant select, insert, delete on table public.shopify_catalog_deletions to service_role;

create function public.lock_shopify_catalog(p_user_id uuid)
returns void
language sql
set search_path = ''
as $$
  -- A catalog delete and the import's catalog load of one user take turns: the delete then sees,
  -- and removes, what an import wrote, and an import sees every deletion committed before it
  -- (without it, a delete that ran while an import was writing the same product found nothing
  -- to delete, and the import's row came back at its commit).
  select pg_catalog.pg_advisory_xact_lock(46, pg_catalog.hashtext(p_user_id::text))
$$;

comment on function public.lock_shopify_catalog(uuid) is
'Takes a user''s catalog lock until the end of the transaction (products/collections deletes and the '
'import''s catalog loads); the first key is 46, this file''s number. Service only.';

revoke all on function public.lock_shopify_catalog(uuid) from public, anon, authenticated;
grant execute on function public.lock_shopify_catalog(uuid) to service_role;

create or replace function public.upsert_shopify_products(
  p_user_id uuid,
  p_shop_domain text,
  p_products public.shopify_product_input[],
  p_variants public.shopify_variant_input[]
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  products_written bigint;
  variants_written bigint;
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_products: a user is required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.unnest(p_products) as i where coalesce(pg_catalog.btrim(i.shopify_product_id), '') = '')
    or exists (select from pg_catalog.unnest(p_variants) as v where coalesce(pg_catalog.btrim(v.shopify_variant_id), '') = '') then
    raise exception 'upsert_shopify_products: every product and variant needs an id' using errcode = '22023';
  end if;

  with input as (
    select distinct on (i.shopify_product_id) i.*
    from pg_catalog.unnest(p_products) as i
    -- A deleted product is never written again (a late update, an import read before the delete).
    where not exists (
      select from public.shopify_catalog_deletions as d
      where d.user_id = p_user_id and d.kind = 'product' and d.shopify_id = i.shopify_product_id
    )
    order by i.shopify_product_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.shopify_products as p (
      user_id, shop_domain, shopify_product_id, title, handle, status, vendor, product_type, tags, images,
      shopify_updated_at, created_at
    )
    select
      p_user_id, p_shop_domain, i.shopify_product_id, coalesce(i.title, ''), i.handle, i.status, i.vendor,
      i.product_type, coalesce(i.tags, '{}'), coalesce(i.images, '[]'), i.shopify_updated_at,
      coalesce(i.created_at, pg_catalog.now())
    from input as i
    on conflict on constraint shopify_products_user_id_shopify_product_id_key do update
    set
      shop_domain = coalesce(excluded.shop_domain, p.shop_domain),
      title = excluded.title,
      handle = excluded.handle,
      status = excluded.status,
      vendor = excluded.vendor,
      product_type = excluded.product_type,
      tags = excluded.tags,
      images = excluded.images,
      shopify_updated_at = excluded.shopify_updated_at
    where
      (
        p.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= p.shopify_updated_at
      )
      and (
        p.shop_domain, p.title, p.handle, p.status, p.vendor, p.product_type, p.tags, p.images,
        p.shopify_updated_at
      ) is distinct from (
        coalesce(excluded.shop_domain, p.shop_domain), excluded.title, excluded.handle, excluded.status,
        excluded.vendor, excluded.product_type, excluded.tags, excluded.images, excluded.shopify_updated_at
      )
    returning 1
  )

  select pg_catalog.count(*) into products_written from written_rows;

  -- The variants of every product the input did not find older than the stored row: written where
  -- they differ, and those the product no longer has deleted.
  with fresh as (
    -- One index probe per input product (LATERAL): the table may have outgrown its statistics.
    select distinct
      p.id,
      p.shopify_product_id
    from pg_catalog.unnest(p_products) as i
    inner join lateral (
      select x.id, x.shopify_product_id, x.shopify_updated_at
      from public.shopify_products as x
      where x.user_id = p_user_id and x.shopify_product_id = i.shopify_product_id
      limit 1  -- keeps the subquery a subquery (the planner would turn it into a hash join)
    ) as p on true
    where
      p.shopify_updated_at is null
      or i.shopify_updated_at is null
      or i.shopify_updated_at >= p.shopify_updated_at
  ),

  variant_input as (
    select distinct on (v.shopify_variant_id)
      v.*,
      f.id as product_row_id
    from pg_catalog.unnest(p_variants) as v
    inner join fresh as f on v.shopify_product_id = f.shopify_product_id
    order by v.shopify_variant_id asc
  ),

  upserted as (
    insert into public.shopify_product_variants as x (
      user_id, product_id, shopify_variant_id, title, sku, price, inventory_quantity, position
    )
    select
      p_user_id, v.product_row_id, v.shopify_variant_id, v.title, v.sku, v.price, v.inventory_quantity,
      v.position
    from variant_input as v
    on conflict on constraint shopify_product_variants_user_id_shopify_variant_id_key do update
    set
      product_id = excluded.product_id,
      title = excluded.title,
      sku = excluded.sku,
      price = excluded.price,
      inventory_quantity = excluded.inventory_quantity,
      position = excluded.position
    where
      (x.product_id, x.title, x.sku, x.price, x.inventory_quantity, x.position)
      is distinct from (
        excluded.product_id, excluded.title, excluded.sku, excluded.price, excluded.inventory_quantity,
        excluded.position
      )
    returning 1
  ),

  removed as (
    delete from public.shopify_product_variants as x
    using fresh as f
    where
      x.user_id = p_user_id
      and x.product_id = f.id
      and not exists (select from variant_input as v where v.shopify_variant_id = x.shopify_variant_id)
    returning 1
  )

  select (select pg_catalog.count(*) from upserted) + (select pg_catalog.count(*) from removed)
  into variants_written;
  return products_written + variants_written;
end
$$;

comment on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) is
'Upserts products and their complete variant lists (webhook or import): never back to an older '
'updated_at, identical rows not rewritten, variants a product no longer has deleted, a deleted product '
'never written again (shopify_catalog_deletions). Returns the rows written.';

revoke all on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) from public, anon, authenticated;
grant execute on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) to service_role;

create or replace function public.upsert_shopify_collections(
  p_user_id uuid,
  p_shop_domain text,
  p_collections public.shopify_collection_input[],
  p_members public.shopify_collection_member_input[] default null
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  collections_written bigint;
  members_written bigint := 0;
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_collections: a user is required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.unnest(p_collections) as i
    where coalesce(pg_catalog.btrim(i.shopify_collection_id), '') = ''
  ) then
    raise exception 'upsert_shopify_collections: every collection needs an id' using errcode = '22023';
  end if;

  with input as (
    select distinct on (i.shopify_collection_id) i.*
    from pg_catalog.unnest(p_collections) as i
    -- A deleted collection is never written again (a late update, an import read before the delete).
    where not exists (
      select from public.shopify_catalog_deletions as d
      where d.user_id = p_user_id and d.kind = 'collection' and d.shopify_id = i.shopify_collection_id
    )
    order by i.shopify_collection_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.shopify_collections as c (
      user_id, shop_domain, shopify_collection_id, title, handle, collection_type, shopify_updated_at
    )
    select
      p_user_id, p_shop_domain, i.shopify_collection_id, coalesce(i.title, ''), i.handle,
      coalesce(i.collection_type, 'custom'), i.shopify_updated_at
    from input as i
    on conflict on constraint shopify_collections_user_id_shopify_collection_id_key do update
    set
      shop_domain = coalesce(excluded.shop_domain, c.shop_domain),
      title = excluded.title,
      handle = excluded.handle,
      collection_type = excluded.collection_type,
      shopify_updated_at = excluded.shopify_updated_at
    where
      (
        c.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= c.shopify_updated_at
      )
      and (c.shop_domain, c.title, c.handle, c.collection_type, c.shopify_updated_at)
      is distinct from (
        coalesce(excluded.shop_domain, c.shop_domain), excluded.title, excluded.handle,
        excluded.collection_type, excluded.shopify_updated_at
      )
    returning 1
  )

  select pg_catalog.count(*) into collections_written from written_rows;

  -- Membership carries no timestamp: when it is given (the import reads it; webhooks do not carry
  -- it), each given collection holds exactly the given products.
  if p_members is not null then
    with wanted as (
      select distinct
        m.shopify_collection_id,
        m.shopify_product_id
      from pg_catalog.unnest(p_members) as m
      inner join pg_catalog.unnest(p_collections) as c on m.shopify_collection_id = c.shopify_collection_id
      where
        coalesce(m.shopify_product_id, '') <> ''
        -- Neither a deleted collection nor a deleted product is a member.
        and not exists (
          select from public.shopify_catalog_deletions as d
          where
            d.user_id = p_user_id
            and (
              d.kind = 'collection' and d.shopify_id = m.shopify_collection_id
              or d.kind = 'product' and d.shopify_id = m.shopify_product_id
            )
        )
    ),

    added as (
      insert into public.shopify_collection_products (user_id, shopify_collection_id, shopify_product_id)
      select p_user_id, w.shopify_collection_id, w.shopify_product_id
      from wanted as w
      on conflict do nothing
      returning 1
    ),

    removed as (
      delete from public.shopify_collection_products as x
      where
        x.user_id = p_user_id
        and x.shopify_collection_id in (select c.shopify_collection_id from pg_catalog.unnest(p_collections) as c)
        and not exists (
          select from wanted as w
          where w.shopify_collection_id = x.shopify_collection_id and w.shopify_product_id = x.shopify_product_id
        )
      returning 1
    )

    select (select pg_catalog.count(*) from added) + (select pg_catalog.count(*) from removed)
    into members_written;
  end if;
  return collections_written + members_written;
end
$$;

comment on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) is
'Upserts collections (webhook or import) under the updated_at rule; with members given, each given '
'collection then holds exactly those products. Deleted collections and products (shopify_catalog_deletions) '
'are never written again. Returns the rows written.';

revoke all on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) from public, anon, authenticated;
grant execute on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) to service_role;

create or replace function public.apply_shopify_catalog_webhook(
  p_user_id uuid, p_shop_domain text, p_topic text, p_payload jsonb
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  item_id text := p_payload ->> 'id';
  written bigint;
begin
  if pg_catalog.jsonb_typeof(p_payload) is distinct from 'object' or coalesce(item_id, '') = '' then
    raise exception 'apply_shopify_catalog_webhook: a payload object with an id is required' using errcode = '22023';
  end if;
  if p_topic in ('products/delete', 'collections/delete') then
    perform public.lock_shopify_catalog(p_user_id);
  end if;
  if p_topic = 'products/delete' then
    insert into public.shopify_catalog_deletions (user_id, kind, shopify_id, shop_domain)
    values (p_user_id, 'product', item_id, p_shop_domain)
    on conflict do nothing;
    delete from public.shopify_collection_products as m where m.user_id = p_user_id and m.shopify_product_id = item_id;
    delete from public.shopify_products as p where p.user_id = p_user_id and p.shopify_product_id = item_id;
    return case when found then 'deleted' else 'absent' end;
  end if;
  if p_topic = 'collections/delete' then
    insert into public.shopify_catalog_deletions (user_id, kind, shopify_id, shop_domain)
    values (p_user_id, 'collection', item_id, p_shop_domain)
    on conflict do nothing;
    delete from public.shopify_collections as c where c.user_id = p_user_id and c.shopify_collection_id = item_id;
    return case when found then 'deleted' else 'absent' end;
  end if;
  if p_topic in ('products/create', 'products/update') then
    written := public.upsert_shopify_products(
      p_user_id, p_shop_domain,
      array[(
        item_id,
        p_payload ->> 'title',
        p_payload ->> 'handle',
        p_payload ->> 'status',
        p_payload ->> 'vendor',
        p_payload ->> 'product_type',
        -- REST carries tags as one comma-separated string.
        coalesce((
          select pg_catalog.array_agg(pg_catalog.btrim(t) order by n)
          from pg_catalog.unnest(pg_catalog.string_to_array(p_payload ->> 'tags', ',')) with ordinality as u (t, n)
          where pg_catalog.btrim(t) <> ''
        ), '{}'),
        coalesce((
          select pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object('url', im ->> 'src', 'alt', im ->> 'alt') order by n
          )
          from pg_catalog.jsonb_array_elements(coalesce(p_payload -> 'images', '[]')) with ordinality as e (im, n)
        ), '[]'),
        (p_payload ->> 'updated_at')::timestamptz,
        (p_payload ->> 'created_at')::timestamptz
      )::public.shopify_product_input],
      coalesce((
        select pg_catalog.array_agg((
          item_id, v ->> 'id', v ->> 'title', v ->> 'sku', (v ->> 'price')::numeric,
          (v ->> 'inventory_quantity')::integer, (v ->> 'position')::integer
        )::public.shopify_variant_input)
        from pg_catalog.jsonb_array_elements(coalesce(p_payload -> 'variants', '[]')) as v
      ), '{}')
    );
  elsif p_topic in ('collections/create', 'collections/update') then
    written := public.upsert_shopify_collections(
      p_user_id, p_shop_domain,
      array[(
        item_id,
        p_payload ->> 'title',
        p_payload ->> 'handle',
        -- A smart collection's payload carries its rules.
        case when p_payload ? 'rules' then 'smart' else 'custom' end,
        (p_payload ->> 'updated_at')::timestamptz
      )::public.shopify_collection_input]
    );
  else
    raise exception 'apply_shopify_catalog_webhook: not a catalog topic: %', p_topic using errcode = '22023';
  end if;
  return case when written > 0 then 'written' else 'stale' end;
end
$$;

comment on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) is
'Applies a products/* or collections/* delivery (REST payload) through the import''s own upsert '
'functions; a delete deletes and records the deletion, so nothing writes the item again. Returns '
'written, stale (older, identical or deleted), deleted or absent.';

revoke all on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) from public, anon, authenticated;
grant execute on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) to service_role;

create or replace function public.redact_shopify_shop(p_user_id uuid, p_shop_domain text, p_payload jsonb)
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
