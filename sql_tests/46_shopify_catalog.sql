-- Tests supabase/schemas/46_shopify_catalog.sql.
-- Products with variants and collections with members, from webhook payloads and in batches: the
-- updated_at rule, identical rows not rewritten, variants replaced with their product, deletes,
-- RLS, and the products export.
begin;
select plan(30);

select tests.create_user('cat-a@example.test') as a \gset user_
select tests.create_user('cat-b@example.test') as b \gset user_

select tests.authenticate_as_service();

select set_config('tests.product', '{
  "id": 632910392, "title": "Quote Print", "handle": "quote-print", "status": "active",
  "vendor": "Haven", "product_type": "Poster", "tags": "quotes, prints",
  "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z",
  "images": [{"src": "https://cdn.example/1.png", "alt": "front"}],
  "variants": [
    {"id": 1, "title": "8x10", "sku": "Q-810", "price": "19.99", "inventory_quantity": 5, "position": 1},
    {"id": 2, "title": "A4", "sku": "Q-A4", "price": "24.00", "inventory_quantity": 2, "position": 2}
  ]}', true) as product_setting;

select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'products/create',
    current_setting('tests.product')::jsonb
  ),
  'written', 'a products/create payload writes the product'
);
select results_eq(
  $$select title, status, tags, images, shop_domain from public.shopify_products
    where shopify_product_id = '632910392'$$,
  $$values ('Quote Print'::text, 'active'::text, '{quotes,prints}'::text[],
    '[{"url": "https://cdn.example/1.png", "alt": "front"}]'::jsonb, 'a.myshopify.com'::text)$$,
  'the product''s fields, tags (split) and images come from the payload, stamped with the shop'
);
select results_eq(
  $$select shopify_variant_id, price, inventory_quantity from public.shopify_product_variants order by 1$$,
  $$values ('1'::text, 19.99::numeric(12, 2), 5), ('2'::text, 24.00::numeric(12, 2), 2)$$,
  'its variants are written'
);

create temp table before_rows on commit drop as
select
  'p' as t,
  xmin::text as x
from public.shopify_products
union all
select
  'v' as t,
  xmin::text as x
from public.shopify_product_variants;
select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'products/update',
    current_setting('tests.product')::jsonb
  ),
  'stale', 'an identical payload writes nothing'
);
select set_eq(
  $$select 'p' as t, xmin::text as x from public.shopify_products
    union all select 'v', xmin::text as x from public.shopify_product_variants$$,
  $$select t, x from before_rows$$,
  'no row was rewritten by the identical payload'
);

select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'products/update',
    jsonb_set(
      jsonb_set(current_setting('tests.product')::jsonb, '{updated_at}', '"2026-10-01T00:00:00Z"'),
      '{title}', '"Old title"'
    )
  ),
  'stale', 'an older payload is stale'
);
select is(
  (select title from public.shopify_products where shopify_product_id = '632910392'), 'Quote Print',
  'an older payload changes nothing'
);

select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'products/update',
    jsonb_set(
      jsonb_set(current_setting('tests.product')::jsonb, '{updated_at}', '"2026-11-02T00:00:00Z"'),
      '{variants}', '[{"id": 2, "title": "A4", "sku": "Q-A4", "price": "26.00", "inventory_quantity": 1}]'
    )
  ),
  'written', 'a newer payload is written'
);
select results_eq(
  $$select shopify_variant_id, price from public.shopify_product_variants order by 1$$,
  $$values ('2'::text, 26.00::numeric(12, 2))$$,
  'variants the product no longer has are deleted, the others updated'
);

-- Batches, as the import writes them.
select is(
  public.upsert_shopify_products(:'user_a', 'a.myshopify.com', array[
    ('700', 'Batch one', 'b1', 'draft', null, null, '{}', '[]', '2026-11-05T00:00:00Z', null),
    ('700', 'Batch one older', 'b1', 'draft', null, null, '{}', '[]', '2026-11-04T00:00:00Z', null),
    ('701', 'Batch two', 'b2', 'active', null, null, '{}', '[]', '2026-11-05T00:00:00Z', null)
  ]::public.shopify_product_input[], array[
    ('700', '7001', 'v', null, 5, 1, 1), ('701', '7011', 'v', null, 6, 0, 1)
  ]::public.shopify_variant_input[]),
  4::bigint, 'a batch writes each product once (the newest of duplicates) and its variants'
);
select is(
  (select title from public.shopify_products where shopify_product_id = '700'), 'Batch one',
  'the newest of two rows for one product wins'
);

select is(
  public.upsert_shopify_collections(:'user_a', 'a.myshopify.com', array[
    ('c1', 'Best sellers', 'best', 'smart', '2026-11-01T00:00:00Z'),
    ('c2', 'Posters', 'posters', 'custom', '2026-11-01T00:00:00Z')
  ]::public.shopify_collection_input[], array[('c1', '700'), ('c1', '701'), ('c2', '632910392')]
  ::public.shopify_collection_member_input[]),
  5::bigint, 'collections and their members are written'
);
select is(
  public.upsert_shopify_collections(:'user_a', 'a.myshopify.com', array[
    ('c1', 'Best sellers', 'best', 'smart', '2026-11-01T00:00:00Z')
  ]::public.shopify_collection_input[], array[('c1', '700')]::public.shopify_collection_member_input[]),
  1::bigint, 'given members replace the collection''s (one removed, nothing else rewritten)'
);
select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'collections/update',
    '{"id": "c2", "title": "Wall posters", "handle": "posters", "updated_at": "2026-11-03T00:00:00Z"}'
  ),
  'written', 'a collections/update payload updates the collection'
);
select is(
  (select count(*)::integer from public.shopify_collection_products where shopify_collection_id = 'c2'), 1,
  'a collection webhook (no members in it) keeps the members'
);

select results_eq(
  $$select title, variant_count, min_price, inventory, collections from public.export_products
    where shopify_product_id = '632910392'$$,
  $$values ('Quote Print'::text, 1::bigint, 26.00::numeric(12, 2), 1::bigint, 'Wall posters'::text)$$,
  'the products export counts variants, prices, stock and names the collections'
);

select is(
  public.apply_shopify_catalog_webhook(:'user_a', 'a.myshopify.com', 'products/delete', '{"id": 632910392}'),
  'deleted', 'products/delete deletes the product'
);
select is(
  (
    select count(*)::integer from public.shopify_product_variants as v
    inner join public.shopify_products as p on v.product_id = p.id
    where p.shopify_product_id = '632910392'
  ) + (select count(*)::integer from public.shopify_collection_products where shopify_product_id = '632910392'),
  0, 'its variants and memberships go with it'
);
select is(
  public.apply_shopify_catalog_webhook(
    :'user_a', 'a.myshopify.com', 'products/update',
    '{"id": 632910392, "title": "Late update", "updated_at": "2030-01-01T00:00:00Z"}'
  ),
  'stale', 'an update arriving after the delete does not bring the product back'
);
select is(
  public.upsert_shopify_products(:'user_a', 'a.myshopify.com', array[
    ('632910392', 'Imported before the delete', 'q', 'active', null, null, '{}', '[]', '2026-11-01T00:00:00Z', null)
  ]::public.shopify_product_input[], array[('632910392', '1', 'v', null, 5, 1, 1)]::public.shopify_variant_input[]),
  0::bigint, 'nor does an import read before it'
);
select is(
  public.upsert_shopify_collections(:'user_a', 'a.myshopify.com', array[
    ('c2', 'Wall posters', 'posters', 'custom', '2026-11-03T00:00:00Z')
  ]::public.shopify_collection_input[], array[('c2', '632910392')]::public.shopify_collection_member_input[]),
  0::bigint, 'and no collection holds it again'
);
select is(
  public.apply_shopify_catalog_webhook(:'user_a', 'a.myshopify.com', 'collections/delete', '{"id": "c2"}'),
  'deleted', 'collections/delete deletes the collection'
);
select is(
  public.upsert_shopify_collections(:'user_a', 'a.myshopify.com', array[
    ('c2', 'Wall posters', 'posters', 'custom', '2030-01-01T00:00:00Z')
  ]::public.shopify_collection_input[], array[('c2', '700')]::public.shopify_collection_member_input[]),
  0::bigint, 'a deleted collection is not written again, nor are its members'
);
select results_eq(
  $$select kind, shopify_id, shop_domain from public.shopify_catalog_deletions order by 1, 2$$,
  $$values ('collection'::text, 'c2'::text, 'a.myshopify.com'::text), ('product', '632910392', 'a.myshopify.com')$$,
  'each deletion is recorded with its shop'
);
select throws_ok(
  $$select public.apply_shopify_catalog_webhook(gen_random_uuid(), 'a.myshopify.com', 'products/update', '{"x": 1}')$$,
  '22023', null, 'a payload without an id is refused'
);

-- RLS: users read their own catalog, write none of it.
select tests.authenticate_as(:'user_b');
select is((select count(*)::integer from public.shopify_products), 0, 'another user sees no products');
select tests.authenticate_as(:'user_a');
select throws_ok(
  $$insert into public.shopify_collections (user_id, shopify_collection_id) values (auth.uid(), 'mine')$$,
  '42501', null, 'a user cannot write the catalog'
);
select throws_ok(
  $$delete from public.shopify_catalog_deletions$$, '42501', null, 'nor undo a deletion'
);
select is((select count(*)::integer from public.shopify_catalog_deletions), 2, 'but reads their own deletions');
select tests.authenticate_as(:'user_b');
select is((select count(*)::integer from public.shopify_catalog_deletions), 0, 'which no one else sees');

select * from finish();
rollback;
