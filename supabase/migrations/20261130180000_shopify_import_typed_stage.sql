-- The import's staging table holds typed columns instead of one jsonb document per JSONL line:
-- the service parses each line (on its own core) while Postgres writes, which Postgres did on the
-- same core as the writes before, and sums an order's line items that follow it into its row
-- (docs/shopify.md, "Measured"). create_shopify_bulk_stage declares the columns per kind;
-- import_shopify_bulk_stage reads them, with the same rules as before.
--
-- The import also writes each customer its orders create once, with its totals, and recomputes
-- all the user's customers' totals in one pass at its end; upsert_shopify_orders' import mode
-- (p_import, which replaces p_refresh_totals) leaves both to it. A parameter cannot be renamed in
-- place: the function is dropped and created again with the same signature and grants. As the
-- customers no longer grow while the orders are written, the statistics refreshed during an
-- orders import are the orders' only.

create or replace function public.refresh_shopify_customer_totals(p_user_id uuid, p_customer_ids uuid[])
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  written bigint;
begin
  -- Totals from the orders held (not cancelled, voided or refunded); unchanged ones are not rewritten.
  if p_customer_ids is null then
    -- Every customer of the user (the import, once at its end): one pass over their orders,
    -- aggregated by hash, instead of an index probe per customer.
    update public.customers as c
    set
      order_count = s.order_count,
      total_spent = s.total_spent,
      first_order_at = s.first_order_at,
      last_order_at = s.last_order_at
    from (
      select
        x.id,
        coalesce(a.order_count, 0) as order_count,
        coalesce(a.total_spent, 0) as total_spent,
        a.first_order_at,
        a.last_order_at
      from public.customers as x
      left join (
        select
          o.customer_id,
          pg_catalog.count(*)::integer as order_count,
          pg_catalog.sum(o.total) as total_spent,
          pg_catalog.min(o.created_at) as first_order_at,
          pg_catalog.max(o.created_at) as last_order_at
        from public.customer_orders as o
        where o.user_id = p_user_id and o.status not in ('cancelled', 'voided', 'refunded')
        group by o.customer_id
      ) as a on x.id = a.customer_id
      where x.user_id = p_user_id
    ) as s
    where
      c.user_id = p_user_id
      and c.id = s.id
      and (c.order_count, c.total_spent, c.first_order_at, c.last_order_at)
      is distinct from (s.order_count, s.total_spent, s.first_order_at, s.last_order_at);
    get diagnostics written = row_count;
    return written;
  end if;
  update public.customers as c
  set
    order_count = s.order_count,
    total_spent = s.total_spent,
    first_order_at = s.first_order_at,
    last_order_at = s.last_order_at
  from (
    -- Per customer, its orders through the (user_id, customer_id) index (LATERAL): during an import
    -- the statistics are stale, and a plan that scans the user's orders per customer is quadratic.
    select
      t.id,
      a.order_count,
      a.total_spent,
      a.first_order_at,
      a.last_order_at
    from (select distinct u.id from pg_catalog.unnest(p_customer_ids) as u (id)) as t
    cross join lateral (
      select
        pg_catalog.count(*)::integer as order_count,
        coalesce(pg_catalog.sum(o.total), 0) as total_spent,
        pg_catalog.min(o.created_at) as first_order_at,
        pg_catalog.max(o.created_at) as last_order_at
      from public.customer_orders as o
      where
        o.user_id = p_user_id
        and o.customer_id = t.id
        and o.status not in ('cancelled', 'voided', 'refunded')
    ) as a
  ) as s
  where
    c.user_id = p_user_id
    and c.id = s.id
    and (c.order_count, c.total_spent, c.first_order_at, c.last_order_at)
    is distinct from (s.order_count, s.total_spent, s.first_order_at, s.last_order_at);
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.refresh_shopify_customer_totals(uuid, uuid[]) is
'Recomputes the order count, spend and first/last order of the given customers (null: every customer '
'of the user) from the orders held (not cancelled/voided/refunded), in one statement; rows whose totals '
'are unchanged are not written.';

revoke all on function public.refresh_shopify_customer_totals(uuid, uuid[]) from public, anon, authenticated;
grant execute on function public.refresh_shopify_customer_totals(uuid, uuid[]) to service_role;

drop function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean);

create function public.upsert_shopify_orders(
  p_user_id uuid, p_shop_domain text, p_orders public.shopify_order_input[], p_import boolean default false
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  written bigint;
  touched uuid [];
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_orders: a user is required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.unnest(p_orders) as i where coalesce(pg_catalog.btrim(i.shopify_order_id), '') = '') then
    raise exception 'upsert_shopify_orders: every order needs an id' using errcode = '22023';
  end if;

  -- Each order's customer must exist to be linked; its own webhook or import row fills in the rest.
  -- The import has created every customer of its orders before it writes them.
  if not p_import then
    insert into public.customers (user_id, shopify_customer_id, email, shop_domain)
    select distinct on (i.shopify_customer_id)
      p_user_id, i.shopify_customer_id, i.shopify_customer_email, p_shop_domain
    from pg_catalog.unnest(p_orders) as i
    where coalesce(pg_catalog.btrim(i.shopify_customer_id), '') <> ''
    order by i.shopify_customer_id asc, i.shopify_updated_at desc nulls last
    on conflict on constraint customers_user_id_shopify_customer_id_key do nothing;
  end if;

  -- The lookups are LATERAL with LIMIT, one index probe per input row: during an import the tables
  -- grow faster than their statistics, and a hash join would read every row the user has, per batch.
  with input as (
    select distinct on (i.shopify_order_id)
      i.*,
      c.id as customer_row_id,
      o.customer_id as previous_customer_id
    from pg_catalog.unnest(p_orders) as i
    left join lateral (
      select x.id from public.customers as x
      where x.user_id = p_user_id and x.shopify_customer_id = i.shopify_customer_id
      limit 1  -- keeps the subquery a subquery (the planner would turn it into a hash join)
    ) as c on true
    left join lateral (
      -- The customer an order had, whose totals change when it moves: not looked up for the import,
      -- which recomputes every customer's totals at its end.
      select y.customer_id from public.customer_orders as y
      where not p_import and y.user_id = p_user_id and y.shopify_order_id = i.shopify_order_id
      limit 1
    ) as o on true
    order by i.shopify_order_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.customer_orders as o (
      user_id, customer_id, shopify_order_id, customer_email, total, subtotal, discount_total,
      item_count, status, attribution_channel, coupon_code, shopify_updated_at, created_at, shop_domain
    )
    select
      p_user_id, i.customer_row_id, i.shopify_order_id, i.customer_email, coalesce(i.total, 0),
      coalesce(i.subtotal, 0), coalesce(i.discount_total, 0), coalesce(i.item_count, 0),
      coalesce(nullif(i.status, ''), 'pending'), i.attribution_channel, i.coupon_code,
      i.shopify_updated_at, coalesce(i.created_at, pg_catalog.now()), p_shop_domain
    from input as i
    on conflict on constraint customer_orders_user_id_shopify_order_id_key do update
    set
      customer_id = excluded.customer_id,
      customer_email = excluded.customer_email,
      total = excluded.total,
      subtotal = excluded.subtotal,
      discount_total = excluded.discount_total,
      item_count = excluded.item_count,
      status = excluded.status,
      attribution_channel = excluded.attribution_channel,
      coupon_code = excluded.coupon_code,
      shopify_updated_at = excluded.shopify_updated_at,
      shop_domain = coalesce(excluded.shop_domain, o.shop_domain)
    where
      (
        o.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= o.shopify_updated_at
      )
      and (
        o.customer_id, o.customer_email, o.total, o.subtotal, o.discount_total, o.item_count, o.status,
        o.attribution_channel, o.coupon_code, o.shopify_updated_at, o.shop_domain
      ) is distinct from (
        excluded.customer_id, excluded.customer_email, excluded.total, excluded.subtotal,
        excluded.discount_total, excluded.item_count, excluded.status, excluded.attribution_channel,
        excluded.coupon_code, excluded.shopify_updated_at, coalesce(excluded.shop_domain, o.shop_domain)
      )
    returning o.shopify_order_id, o.customer_id
  ),

  customers_touched as (
    -- Who gained, changed or lost an order (none for the import, which recomputes them all at its end).
    select w.customer_id from written_rows as w where not p_import and w.customer_id is not null
    union
    select i.previous_customer_id
    from input as i
    inner join written_rows as w on i.shopify_order_id = w.shopify_order_id
    where i.previous_customer_id is not null
  )

  select
    (select pg_catalog.count(*) from written_rows),
    (select pg_catalog.array_agg(t.customer_id) from customers_touched as t)
  into written, touched;

  -- Their totals, from the orders now held (a second statement: it must see this one's writes).
  -- The import (p_import) recomputes every customer's totals once at its end instead.
  if touched is not null then
    perform public.refresh_shopify_customer_totals(p_user_id, touched);
  end if;
  return written;
end
$$;

comment on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean) is
'Upserts orders (webhook or import) under the webhook rule: never back to an older updated_at, an '
'identical row is not rewritten; links (creating if needed) each order''s customer and recomputes '
'the totals of customers whose orders changed. p_import: the caller (the import) has created every '
'order''s customer and recomputes all the user''s customers'' totals at its end, so neither is done '
'here. Stamps the shop when given. Returns the orders written.';

revoke all on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
from public, anon, authenticated;
grant execute on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
to service_role;

create function public.create_shopify_bulk_stage(p_kind text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  -- The staging table the service COPYs one bulk operation's result into, a JSONL line a row,
  -- before import_shopify_bulk_stage writes it; dropped at commit. The service parses each line
  -- and fills the columns from the paths its query names (service/providers/shopify/bulk_lines.py):
  -- a parent its own columns, a child parent_gid (its __parentId) and the child's. Values are as
  -- Shopify wrote them (gids whole); what they mean is decided here, in import_shopify_bulk_stage.
  if pg_catalog.to_regclass('pg_temp.shopify_bulk_stage') is not null then
    drop table pg_temp.shopify_bulk_stage;
  end if;
  if p_kind = 'customers' then
    create temp table shopify_bulk_stage (
      parent_gid text, gid text, default_email text, email text, updated_at timestamptz, created_at timestamptz
    ) on commit drop;
  elsif p_kind = 'orders' then
    create temp table shopify_bulk_stage (
      parent_gid text, gid text, customer_gid text, customer_default_email text, customer_email text, email text,
      total numeric, subtotal numeric, discount_total numeric, cancelled_at timestamptz, financial_status text,
      landing_page text, source_name text, discount_codes text [], updated_at timestamptz, created_at timestamptz,
      -- A line item's quantity; on an order, the quantities of line items the service summed into it.
      quantity integer
    ) on commit drop;
  elsif p_kind = 'products' then
    create temp table shopify_bulk_stage (
      parent_gid text, gid text, title text, handle text, status text, vendor text, product_type text, tags text [],
      updated_at timestamptz, created_at timestamptz, child_gid text, variant_title text, sku text, price numeric,
      inventory_quantity integer, position integer, image_url text, image_alt text
    ) on commit drop;
  elsif p_kind = 'collections' then
    create temp table shopify_bulk_stage (
      parent_gid text, gid text, title text, handle text, updated_at timestamptz, rule_set_disjunctive boolean,
      child_gid text
    ) on commit drop;
  else
    raise exception 'create_shopify_bulk_stage: unknown kind %', coalesce(p_kind, 'null') using errcode = '22023';
  end if;
end
$$;

comment on function public.create_shopify_bulk_stage(text) is
'Creates pg_temp.shopify_bulk_stage with the columns of one import kind (a JSONL line a row, parsed '
'by the service), for import_shopify_bulk_stage; dropped at commit.';

revoke all on function public.create_shopify_bulk_stage(text) from public, anon, authenticated;
grant execute on function public.create_shopify_bulk_stage(text) to service_role;

create or replace function public.analyze_shopify_import_targets(p_kind text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- As the tables' owner: ANALYZE is the owner's, and the import runs as service_role. Inside the
  -- import's transaction ANALYZE counts the rows that transaction wrote, so the plans of the next
  -- batches see the tables as they now are, not as they were before the import.
  if p_kind = 'customers' then
    analyze public.customers;
  elsif p_kind = 'orders' then
    -- Not customers: the import creates the orders' customers before the orders (and refreshes
    -- their statistics then), so they do not grow while the orders are written.
    analyze public.customer_orders;
  elsif p_kind = 'products' then
    analyze public.shopify_products, public.shopify_product_variants;
  elsif p_kind = 'collections' then
    analyze public.shopify_collections, public.shopify_collection_products;
  else
    raise exception 'analyze_shopify_import_targets: unknown kind %', p_kind using errcode = '22023';
  end if;
end
$$;

comment on function public.analyze_shopify_import_targets(text) is
'Refreshes the planner statistics of the tables one import kind writes, as their owner, during the '
'import''s own transaction (called by import_shopify_bulk_stage as the tables grow).';

revoke all on function public.analyze_shopify_import_targets(text) from public, anon, authenticated;
grant execute on function public.analyze_shopify_import_targets(text) to service_role;

create or replace function public.import_shopify_bulk_stage(
  p_user_id uuid, p_shop_domain text, p_kind text, p_batch integer default 10000
)
returns bigint
language plpgsql
-- Its joins and aggregates run over a whole result (a million orders): in memory, not spilled.
set work_mem = '64MB'
set search_path = ''
as $$
declare
  total bigint;
  from_n bigint := 0;
  written bigint := 0;
  -- The batch after which the written tables' statistics are next refreshed: each time the rows
  -- written double, so a million orders cost about seven ANALYZEs.
  next_analyze bigint := p_batch;
begin
  -- The caller has COPYed one bulk operation's result, a JSONL line a row, into
  -- pg_temp.shopify_bulk_stage (create_shopify_bulk_stage) in this transaction. Here the rows are
  -- turned into our shape (gids to ids, statuses, attribution), children joined to their parents
  -- through parent_gid (children need not follow their parent; an order's line items that did were
  -- summed into its row by the service), and written in batches of p_batch parents through the
  -- webhooks' own upsert functions. Returns the rows written.
  if p_user_id is null or coalesce(p_shop_domain, '') = '' or p_batch is null or p_batch < 1 then
    raise exception 'import_shopify_bulk_stage: a user, a shop and a positive batch are required'
      using errcode = '22023';
  end if;
  -- Left by an earlier call in this transaction (no NOTICE for tables that are not there).
  if pg_catalog.to_regclass('pg_temp.shopify_import_parents') is not null then
    drop table pg_temp.shopify_import_parents;
  end if;
  if pg_catalog.to_regclass('pg_temp.shopify_import_children') is not null then
    drop table pg_temp.shopify_import_children;
  end if;

  if p_kind = 'customers' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.gid, '/', 5), coalesce(s.default_email, s.email), s.updated_at, s.created_at
      )::public.shopify_customer_input as r
    from pg_temp.shopify_bulk_stage as s
    where s.parent_gid is null;
  elsif p_kind = 'orders' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      -- The order's customer, as a column of its own: its statistics tell the planner how many
      -- customers there are (the customers' insert below then aggregates by hash, in memory).
      nullif(pg_catalog.split_part(s.customer_gid, '/', 5), '') as customer_key,
      (
        pg_catalog.split_part(s.gid, '/', 5),
        nullif(pg_catalog.split_part(s.customer_gid, '/', 5), ''),
        coalesce(s.customer_default_email, s.customer_email),
        coalesce(nullif(s.email, ''), s.customer_default_email, s.customer_email),
        s.total,
        s.subtotal,
        s.discount_total,
        coalesce(s.quantity, 0) + coalesce(li.items, 0),
        case
          when s.cancelled_at is not null then 'cancelled'
          else coalesce(pg_catalog.lower(nullif(s.financial_status, '')), 'pending')
        end,
        -- The function only where there is a landing page to read (a call costs more than the rest of
        -- the row); without one it is the source name, as the function would say.
        case
          when s.landing_page is not null then public.shopify_channel_from_landing(s.landing_page, s.source_name)
          else nullif(s.source_name, '')
        end,
        case when pg_catalog.cardinality(s.discount_codes) > 0 then pg_catalog.array_to_string(s.discount_codes, ',') end,
        s.updated_at,
        s.created_at
      )::public.shopify_order_input as r
    from pg_temp.shopify_bulk_stage as s
    left join (
      select
        c.parent_gid,
        pg_catalog.sum(c.quantity)::integer as items
      from pg_temp.shopify_bulk_stage as c
      where c.parent_gid is not null
      group by c.parent_gid
    ) as li on s.gid = li.parent_gid
    where s.parent_gid is null;
  elsif p_kind = 'products' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.gid, '/', 5),
        s.title,
        s.handle,
        pg_catalog.lower(s.status),
        s.vendor,
        s.product_type,
        coalesce(s.tags, '{}'),
        coalesce(im.images, '[]'),
        s.updated_at,
        s.created_at
      )::public.shopify_product_input as r
    from pg_temp.shopify_bulk_stage as s
    left join (
      select
        c.parent_gid,
        pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('url', c.image_url, 'alt', c.image_alt)) as images
      from pg_temp.shopify_bulk_stage as c
      where c.parent_gid is not null and c.image_url is not null
      group by c.parent_gid
    ) as im on s.gid = im.parent_gid
    where s.parent_gid is null;
    create temp table shopify_import_children on commit drop as
    select
      p.n,
      (
        (p.r).shopify_product_id,
        pg_catalog.split_part(c.child_gid, '/', 5),
        c.variant_title,
        c.sku,
        c.price,
        c.inventory_quantity,
        c.position
      )::public.shopify_variant_input as r
    from pg_temp.shopify_bulk_stage as c
    inner join pg_temp.shopify_import_parents as p
      on pg_catalog.split_part(c.parent_gid, '/', 5) = (p.r).shopify_product_id
    where c.parent_gid is not null and pg_catalog.split_part(c.child_gid, '/', 4) = 'ProductVariant';
  elsif p_kind = 'collections' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.gid, '/', 5),
        s.title,
        s.handle,
        -- appliedDisjunctively is never null in a ruleSet: a smart collection has one.
        case when s.rule_set_disjunctive is not null then 'smart' else 'custom' end,
        s.updated_at
      )::public.shopify_collection_input as r
    from pg_temp.shopify_bulk_stage as s
    where s.parent_gid is null;
    create temp table shopify_import_children on commit drop as
    select
      p.n,
      ((p.r).shopify_collection_id, pg_catalog.split_part(c.child_gid, '/', 5))::public.shopify_collection_member_input
      as r
    from pg_temp.shopify_bulk_stage as c
    inner join pg_temp.shopify_import_parents as p
      on pg_catalog.split_part(c.parent_gid, '/', 5) = (p.r).shopify_collection_id
    where c.parent_gid is not null;
  else
    raise exception 'import_shopify_bulk_stage: unknown kind %', coalesce(p_kind, 'null') using errcode = '22023';
  end if;

  select pg_catalog.count(*) into total from pg_temp.shopify_import_parents;
  if total > p_batch then
    create index on pg_temp.shopify_import_parents (n);
    if p_kind in ('products', 'collections') then
      create index on pg_temp.shopify_import_children (n);
    end if;
    analyze pg_temp.shopify_import_parents;
  end if;
  if p_kind = 'orders' then
    -- The orders' customers first, each with the totals of its orders in this result: the customers
    -- the import creates are then written once, where creating them bare and setting their totals at
    -- the end wrote every one twice (a fifth of a large import). This is only a first estimate: the
    -- totals are recomputed from the orders held once they are written (below), and only those that
    -- differ are written again (an order that lost to a newer webhook, or a customer that existed).
    insert into public.customers (
      user_id, shopify_customer_id, email, shop_domain, order_count, total_spent, first_order_at, last_order_at
    )
    select
      p_user_id,
      o.customer_key,
      -- One of its orders' customer emails (a row the orders create is provisional: the customer's
      -- own import row or webhook replaces it, as it has no shopify_updated_at).
      pg_catalog.max(o.email),
      p_shop_domain,
      pg_catalog.count(*) filter (where o.counted),
      coalesce(pg_catalog.sum(o.total) filter (where o.counted), 0),
      pg_catalog.min(o.created_at) filter (where o.counted),
      pg_catalog.max(o.created_at) filter (where o.counted)
    from (
      select
        p.customer_key,
        (p.r).shopify_customer_email as email,
        coalesce((p.r).total, 0) as total,
        (p.r).created_at,
        coalesce((p.r).status, 'pending') not in ('cancelled', 'voided', 'refunded') as counted
      from pg_temp.shopify_import_parents as p
      where coalesce(pg_catalog.btrim(p.customer_key), '') <> ''
    ) as o
    group by o.customer_key
    on conflict on constraint customers_user_id_shopify_customer_id_key do nothing;
    if total > p_batch then
      perform public.analyze_shopify_import_targets('customers');
    end if;
  end if;
  while from_n < total loop
    -- One statement per kind: each is planned for its own row type.
    if p_kind = 'customers' then
      written := written + public.upsert_shopify_customers(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ));
    elsif p_kind = 'orders' then
      written := written + public.upsert_shopify_orders(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), p_import => true);
    elsif p_kind = 'products' then
      written := written + public.upsert_shopify_products(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), array(
        select c.r from pg_temp.shopify_import_children as c where c.n > from_n and c.n <= from_n + p_batch
      ));
    else
      written := written + public.upsert_shopify_collections(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), array(
        select c.r from pg_temp.shopify_import_children as c where c.n > from_n and c.n <= from_n + p_batch
      ));
    end if;
    from_n := from_n + p_batch;
    -- Planned on statistics from before the import, the lookups of later batches can pick an index
    -- that reads every row of the user per probe (a 1M-order import then never ends).
    if from_n >= next_analyze and from_n < total then
      perform public.analyze_shopify_import_targets(p_kind);
      next_analyze := next_analyze * 2;
    end if;
  end loop;
  if p_kind = 'orders' then
    if total > p_batch then
      perform public.analyze_shopify_import_targets(p_kind);
    end if;
    -- A customer's orders may be spread over every batch, and an order may have moved from a
    -- customer the import never names: every customer's totals are recomputed once, here, and
    -- those that differ from the estimate above are written.
    perform public.refresh_shopify_customer_totals(p_user_id, null);
  end if;
  drop table pg_temp.shopify_import_parents;
  if p_kind in ('products', 'collections') then
    drop table pg_temp.shopify_import_children;
  end if;
  return written;
end
$$;

comment on function public.import_shopify_bulk_stage(uuid, text, text, integer) is
'Writes one bulk operation''s JSONL result, staged a line a row in pg_temp.shopify_bulk_stage '
'(create_shopify_bulk_stage) by the caller, through the webhooks'' upsert functions in batches; '
'children joined to parents by __parentId. Returns the rows written.';

revoke all on function public.import_shopify_bulk_stage(uuid, text, text, integer) from public, anon, authenticated;
grant execute on function public.import_shopify_bulk_stage(uuid, text, text, integer) to service_role;
