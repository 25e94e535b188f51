-- The shop's catalog: products with their variants and images, custom and smart collections and
-- which products each holds. Written by the service from the initial import
-- (47_shopify_import.sql) and kept in sync by the products/* and collections/* webhooks
-- (43_shopify_webhook_inbox.sql); users read their own rows. Both paths call the same set-based
-- functions under the rule the order webhooks follow (42_shopify_order_sync.sql): a row never goes
-- back to an older updated_at, and a row that would not change is not written. Rows carry the shop
-- they came from, so shop/redact (44_shopify_compliance.sql) deletes exactly that shop's catalog.

create table public.shopify_products (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text,
  shopify_product_id text not null
  constraint shopify_products_shopify_product_id_not_blank check (btrim(shopify_product_id) <> ''),
  title text not null default '',
  handle text,
  status text,
  vendor text,
  product_type text,
  tags text[] not null default '{}',
  -- [{"url": …, "alt": …}, …] in the shop's order.
  images jsonb not null default '[]'::jsonb
  constraint shopify_products_images_is_array check (jsonb_typeof(images) = 'array'),
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_products_user_id_shopify_product_id_key unique (user_id, shopify_product_id),
  -- Target of the variants' (user_id, product_id) foreign key, which keeps them in their owner's shop.
  constraint shopify_products_user_id_id_key unique (user_id, id)
);

comment on table public.shopify_products is
'A shop''s Shopify products (title, handle, status, vendor, type, tags, images). Written by the service '
'from the import and the products webhooks.';

comment on column public.shopify_products.shop_domain is
'The Shopify shop the product came from; shop/redact deletes by it.';

create index shopify_products_user_id_created_at_idx
on public.shopify_products (user_id, created_at, id);

create trigger shopify_products_set_updated_at
before update on public.shopify_products
for each row execute function public.update_updated_at_column();

alter table public.shopify_products enable row level security;

create policy shopify_products_select_own on public.shopify_products
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_products from anon, authenticated, service_role;
grant select on table public.shopify_products to authenticated;
grant select, insert, update, delete on table public.shopify_products to service_role;

create table public.shopify_product_variants (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  product_id uuid not null,
  shopify_variant_id text not null
  constraint shopify_product_variants_shopify_variant_id_not_blank check (btrim(shopify_variant_id) <> ''),
  title text,
  sku text,
  price numeric(12, 2),
  inventory_quantity integer,
  position integer, -- noqa: RF04
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_product_variants_user_id_shopify_variant_id_key unique (user_id, shopify_variant_id),
  constraint shopify_product_variants_product_fkey foreign key (user_id, product_id)
  references public.shopify_products (user_id, id) on delete cascade
);

comment on table public.shopify_product_variants is
'The variants of a shop''s products (title, SKU, price, inventory). Replaced with their product''s.';

create index shopify_product_variants_user_id_product_id_idx
on public.shopify_product_variants (user_id, product_id);

create trigger shopify_product_variants_set_updated_at
before update on public.shopify_product_variants
for each row execute function public.update_updated_at_column();

alter table public.shopify_product_variants enable row level security;

create policy shopify_product_variants_select_own on public.shopify_product_variants
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_product_variants from anon, authenticated, service_role;
grant select on table public.shopify_product_variants to authenticated;
grant select, insert, update, delete on table public.shopify_product_variants to service_role;

create table public.shopify_collections (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text,
  shopify_collection_id text not null
  constraint shopify_collections_shopify_collection_id_not_blank check (btrim(shopify_collection_id) <> ''),
  title text not null default '',
  handle text,
  collection_type text not null default 'custom'
  constraint shopify_collections_collection_type_valid check (collection_type in ('custom', 'smart')),
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_collections_user_id_shopify_collection_id_key unique (user_id, shopify_collection_id)
);

comment on table public.shopify_collections is
'A shop''s custom and smart collections. Written by the service from the import and the collections webhooks.';

create trigger shopify_collections_set_updated_at
before update on public.shopify_collections
for each row execute function public.update_updated_at_column();

alter table public.shopify_collections enable row level security;

create policy shopify_collections_select_own on public.shopify_collections
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_collections from anon, authenticated, service_role;
grant select on table public.shopify_collections to authenticated;
grant select, insert, update, delete on table public.shopify_collections to service_role;

create table public.shopify_collection_products (
  user_id uuid not null references auth.users (id) on delete cascade,
  shopify_collection_id text not null,
  -- By Shopify id: a collection may name a product the import has not written yet.
  shopify_product_id text not null,
  created_at timestamptz not null default now(),
  primary key (user_id, shopify_collection_id, shopify_product_id),
  constraint shopify_collection_products_collection_fkey foreign key (user_id, shopify_collection_id)
  references public.shopify_collections (user_id, shopify_collection_id) on delete cascade
);

comment on table public.shopify_collection_products is
'Which products each collection holds (by Shopify ids), as the last import read it.';

create index shopify_collection_products_user_id_product_idx
on public.shopify_collection_products (user_id, shopify_product_id);

alter table public.shopify_collection_products enable row level security;

create policy shopify_collection_products_select_own on public.shopify_collection_products
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_collection_products from anon, authenticated, service_role;
grant select on table public.shopify_collection_products to authenticated;
grant select, insert, delete on table public.shopify_collection_products to service_role;

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

create type public.shopify_product_input as (
  shopify_product_id text,
  title text,
  handle text,
  status text,
  vendor text,
  product_type text,
  tags text [],
  images jsonb,
  shopify_updated_at timestamptz,
  created_at timestamptz
);

comment on type public.shopify_product_input is
'One Shopify product in our shape, the input of upsert_shopify_products (webhook or import).';

create type public.shopify_variant_input as (
  shopify_product_id text,
  shopify_variant_id text,
  title text,
  sku text,
  price numeric,
  inventory_quantity integer,
  position integer
);

comment on type public.shopify_variant_input is
'One variant of a Shopify product (by the product''s Shopify id), an input of upsert_shopify_products.';

create type public.shopify_collection_input as (
  shopify_collection_id text,
  title text,
  handle text,
  collection_type text,
  shopify_updated_at timestamptz
);

comment on type public.shopify_collection_input is
'One Shopify collection in our shape, the input of upsert_shopify_collections.';

create type public.shopify_collection_member_input as (
  shopify_collection_id text,
  shopify_product_id text
);

comment on type public.shopify_collection_member_input is
'One product of a collection (Shopify ids), an input of upsert_shopify_collections.';

create function public.upsert_shopify_products(
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

create function public.upsert_shopify_collections(
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

create function public.apply_shopify_catalog_webhook(
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

-- The products export: one row per product with its variants' count, price range and stock, and
-- the titles of its collections. security_invoker, like every export view (30_export_views.sql).
create view public.export_products
with (security_invoker = true) as
select -- noqa: ST06
  p.id,
  p.shopify_product_id,
  p.title,
  p.handle,
  p.status,
  p.vendor,
  p.product_type,
  coalesce(v.variant_count, 0) as variant_count,
  v.min_price,
  v.max_price,
  coalesce(v.inventory, 0) as inventory,
  pg_catalog.array_to_string(p.tags, ', ') as tags,
  (
    select pg_catalog.string_agg(c.title, ', ' order by c.title)
    from public.shopify_collection_products as m
    inner join public.shopify_collections as c
      on m.user_id = c.user_id and m.shopify_collection_id = c.shopify_collection_id
    where m.user_id = p.user_id and m.shopify_product_id = p.shopify_product_id
  ) as collections,
  p.created_at,
  p.user_id,
  p.created_at as export_date
from public.shopify_products as p
left join lateral (
  select
    pg_catalog.count(*) as variant_count,
    pg_catalog.min(x.price) as min_price,
    pg_catalog.max(x.price) as max_price,
    pg_catalog.sum(x.inventory_quantity) as inventory
  from public.shopify_product_variants as x
  where x.user_id = p.user_id and x.product_id = p.id
) as v on true;

comment on view public.export_products is
'Products export: variants'' count, price range and stock, tags and collection titles; export_date = created_at.';

revoke all on table public.export_products from anon, authenticated, service_role;
grant select on table public.export_products to authenticated, service_role;
