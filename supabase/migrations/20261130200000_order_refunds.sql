-- Partial refunds: customer_orders.refunded_total holds what was refunded of an order (REST: its
-- refunds' successful refund transactions; the import: totalRefundedSet), and revenue
-- (daily_metrics) and a customer's spend count total - refunded_total. A partially refunded
-- order counted its whole total before. Existing rows start at 0: the next delivery or import
-- of an order sets its figure.

alter table public.customer_orders
add column refunded_total numeric(12, 2) not null default 0
constraint customer_orders_refunded_total_not_negative check (refunded_total >= 0);

alter type public.shopify_order_input add attribute refunded_total numeric;

-- The orders export offers it (not among the default fields), before user_id and export_date as
-- in every export view: the view is made again, with its grants.
drop view public.export_orders;

create view public.export_orders
with (security_invoker = true) as
select -- noqa: ST06
  o.id,
  o.shopify_order_id,
  o.customer_email,
  o.total,
  o.subtotal,
  o.discount_total,
  o.item_count,
  o.status,
  o.created_at,
  o.attribution_channel,
  o.coupon_code,
  o.refunded_total,
  o.user_id,
  o.created_at as export_date
from public.customer_orders as o;

comment on view public.export_orders is
'Orders export: the catalog''s order fields; export_date = created_at (when the order was placed).';

revoke all on table public.export_orders from anon, authenticated, service_role;
grant select on table public.export_orders to authenticated, service_role;

-- refresh_customer_order_stats, the one-customer twin of refresh_shopify_customer_totals, has had
-- no caller since the import (20261130140000); it goes rather than learn refunds.
drop function public.refresh_customer_order_stats(uuid, uuid);

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
          pg_catalog.sum(o.total - o.refunded_total) as total_spent,
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
        coalesce(pg_catalog.sum(o.total - o.refunded_total), 0) as total_spent,
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

create or replace function public.upsert_shopify_orders(
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
      item_count, status, attribution_channel, coupon_code, shopify_updated_at, created_at, shop_domain,
      refunded_total
    )
    select
      p_user_id, i.customer_row_id, i.shopify_order_id, i.customer_email, coalesce(i.total, 0),
      coalesce(i.subtotal, 0), coalesce(i.discount_total, 0), coalesce(i.item_count, 0),
      coalesce(nullif(i.status, ''), 'pending'), i.attribution_channel, i.coupon_code,
      i.shopify_updated_at, coalesce(i.created_at, pg_catalog.now()), p_shop_domain,
      coalesce(i.refunded_total, 0)
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
      shop_domain = coalesce(excluded.shop_domain, o.shop_domain),
      refunded_total = excluded.refunded_total
    where
      (
        o.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= o.shopify_updated_at
      )
      and (
        o.customer_id, o.customer_email, o.total, o.subtotal, o.discount_total, o.item_count, o.status,
        o.attribution_channel, o.coupon_code, o.shopify_updated_at, o.shop_domain, o.refunded_total
      ) is distinct from (
        excluded.customer_id, excluded.customer_email, excluded.total, excluded.subtotal,
        excluded.discount_total, excluded.item_count, excluded.status, excluded.attribution_channel,
        excluded.coupon_code, excluded.shopify_updated_at, coalesce(excluded.shop_domain, o.shop_domain),
        excluded.refunded_total
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

create or replace function public.upsert_shopify_order(p_user_id uuid, p_order jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  existed boolean;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_order) is distinct from 'object'
    or coalesce(p_order ->> 'id', '') = '' then
    raise exception 'upsert_shopify_order: a user and an order object with an id are required'
      using errcode = '22023';
  end if;
  select exists (
    select from public.customer_orders as o where o.user_id = p_user_id and o.shopify_order_id = p_order ->> 'id'
  ) into existed;
  if public.upsert_shopify_orders(p_user_id, null, array[(
    p_order ->> 'id',
    case when pg_catalog.jsonb_typeof(p_order -> 'customer') = 'object' then nullif(p_order -> 'customer' ->> 'id', '') end,
    nullif(p_order -> 'customer' ->> 'email', ''),
    coalesce(nullif(p_order ->> 'email', ''), nullif(p_order -> 'customer' ->> 'email', '')),
    (p_order ->> 'total_price')::numeric,
    (p_order ->> 'subtotal_price')::numeric,
    (p_order ->> 'total_discounts')::numeric,
    (
      select pg_catalog.sum((li ->> 'quantity')::integer)
      from pg_catalog.jsonb_array_elements(coalesce(p_order -> 'line_items', '[]')) as li
    ),
    case
      when p_order ->> 'cancelled_at' is not null then 'cancelled'
      else coalesce(nullif(p_order ->> 'financial_status', ''), 'pending')
    end,
    public.shopify_attribution_channel(p_order),
    (
      select pg_catalog.string_agg(d ->> 'code', ',')
      from pg_catalog.jsonb_array_elements(coalesce(p_order -> 'discount_codes', '[]')) as d
    ),
    (p_order ->> 'updated_at')::timestamptz,
    (p_order ->> 'created_at')::timestamptz,
    -- The refunds' successful refund transactions (REST carries no refunded total), in the shop's
    -- currency like total_price: a refund in the customer's currency is converted at the order's
    -- own rate (its total in both); without that rate it is left out rather than mixed in.
    (
      select
        pg_catalog.sum(
          case
            when coalesce(t ->> 'currency', p_order ->> 'currency') is not distinct from p_order ->> 'currency'
              then (t ->> 'amount')::numeric
            else pg_catalog.round((t ->> 'amount')::numeric * r.shop_per_presentment, 2)
          end
        )
      from pg_catalog.jsonb_path_query(p_order, '$.refunds[*].transactions[*]') as t
      cross join (
        select
          (p_order #>> '{total_price_set,shop_money,amount}')::numeric
          / nullif((p_order #>> '{total_price_set,presentment_money,amount}')::numeric, 0) as shop_per_presentment
      ) as r
      where t ->> 'kind' = 'refund' and t ->> 'status' = 'success'
    )
  )::public.shopify_order_input]) = 0 then
    return 'stale';
  end if;
  return case when existed then 'updated' else 'inserted' end;
end
$$;

comment on function public.upsert_shopify_order(uuid, jsonb) is
'Upserts an order from a Shopify order payload (through upsert_shopify_orders, which refreshes its '
'customer''s totals); inserted, updated or stale (older than, or the same as, the stored row).';

revoke all on function public.upsert_shopify_order(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_shopify_order(uuid, jsonb) to service_role;

create or replace function public.roll_up_customer_orders()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  changes public.daily_metrics_change[];
begin
  if tg_op = 'INSERT' then
    perform public.lock_daily_metrics_shared(array(select n.user_id from new_rows as n));
    changes := array(
      select row(c.user_id, c.day, pg_catalog.sum(c.total), pg_catalog.count(*), 0)::public.daily_metrics_change
      from (
        select
          n.user_id, (n.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day,
          n.total - n.refunded_total as total
        from new_rows as n left join public.daily_metrics_time_zones as z on n.user_id = z.user_id
        where public.order_counts_in_daily_metrics(n.status)
      ) as c
      group by c.user_id, c.day
    );
  elsif tg_op = 'DELETE' then
    perform public.lock_daily_metrics_shared(array(select o.user_id from old_rows as o));
    changes := array(
      select row(c.user_id, c.day, -pg_catalog.sum(c.total), -pg_catalog.count(*), 0)::public.daily_metrics_change
      from (
        select
          o.user_id, (o.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day,
          o.total - o.refunded_total as total
        from old_rows as o left join public.daily_metrics_time_zones as z on o.user_id = z.user_id
        where public.order_counts_in_daily_metrics(o.status)
      ) as c
      group by c.user_id, c.day
    );
  else
    perform public.lock_daily_metrics_shared(array(
      select o.user_id from old_rows as o union select n.user_id from new_rows as n
    ));
    changes := array(
      select
        row(c.user_id, c.day, pg_catalog.sum(c.total), pg_catalog.sum(c.sign), 0)::public.daily_metrics_change
      from (
        select o.user_id, o.created_at, o.refunded_total - o.total as total, -1 as sign
        from old_rows as o where public.order_counts_in_daily_metrics(o.status)
        union all
        select n.user_id, n.created_at, n.total - n.refunded_total, 1
        from new_rows as n where public.order_counts_in_daily_metrics(n.status)
      ) as r
      left join public.daily_metrics_time_zones as z on r.user_id = z.user_id
      cross join lateral (
        select r.user_id, (r.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day, r.total, r.sign
      ) as c
      group by c.user_id, c.day
    );
  end if;
  if pg_catalog.cardinality(changes) > 0 then
    perform public.apply_daily_metrics_changes(changes);
  end if;
  return null;
end
$$;

comment on function public.roll_up_customer_orders() is
'Statement trigger of customer_orders: the statement''s rows'' orders and revenue, old taken away and '
'new added, into daily_metrics.';

revoke all on function public.roll_up_customer_orders() from public, anon, authenticated;

create or replace function public.recompute_daily_metrics(
  p_user_id uuid, p_from date default null, p_to date default null
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  zone text;
  low timestamptz;
  high timestamptz;
  written integer;
begin
  if p_user_id is null then
    raise exception 'recompute_daily_metrics: a user is required' using errcode = '22023';
  end if;
  if p_from > p_to then
    raise exception 'recompute_daily_metrics: the range starts (%) after it ends (%)', p_from, p_to
      using errcode = '22023';
  end if;
  -- Exclusive: wait for the writers in flight (their rows are then visible to the statements
  -- below, each of which takes a new snapshot under read committed); later writers wait for us.
  perform pg_catalog.pg_advisory_xact_lock(26, public.daily_metrics_lock_key(p_user_id));
  zone := coalesce(
    (select z.time_zone from public.daily_metrics_time_zones as z where z.user_id = p_user_id), 'UTC'
  );
  low := case when p_from is null then '-infinity'::timestamptz else p_from::timestamp at time zone zone end;
  high := case when p_to is null then 'infinity'::timestamptz else (p_to + 1)::timestamp at time zone zone end;

  update public.daily_metrics as m
  set revenue = 0, orders = 0, new_customers = 0
  where
    m.user_id = p_user_id
    and m.date >= coalesce(p_from, '-infinity'::date)
    and m.date <= coalesce(p_to, 'infinity'::date)
    and (m.revenue <> 0 or m.orders <> 0 or m.new_customers <> 0);

  insert into public.daily_metrics as m (user_id, date, revenue, orders, new_customers)
  select p_user_id, f.day, pg_catalog.sum(f.revenue), pg_catalog.sum(f.orders), pg_catalog.sum(f.new_customers)
  from (
    select
      (o.created_at at time zone zone)::date as day, o.total - o.refunded_total as revenue, 1 as orders,
      0 as new_customers
    from public.customer_orders as o
    where
      o.user_id = p_user_id
      and o.created_at >= low and o.created_at < high
      and public.order_counts_in_daily_metrics(o.status)
    union all
    select (c.first_order_at at time zone zone)::date, 0, 0, 1
    from public.customers as c
    where c.user_id = p_user_id and c.first_order_at >= low and c.first_order_at < high
  ) as f
  group by f.day
  order by f.day
  on conflict (user_id, date) do update
    set revenue = excluded.revenue, orders = excluded.orders, new_customers = excluded.new_customers;
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.recompute_daily_metrics(uuid, date, date) is
'Rebuilds a user''s daily_metrics revenue, orders and new_customers for local days p_from..p_to (null: '
'unbounded) from customer_orders and customers; returns the days that have figures. For operators '
'(repair) and time zone changes; run it under read committed. Service only.';

revoke all on function public.recompute_daily_metrics(uuid, date, date) from public, anon, authenticated;
grant execute on function public.recompute_daily_metrics(uuid, date, date) to service_role;

create or replace function public.create_shopify_bulk_stage(p_kind text)
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
      total numeric, subtotal numeric, discount_total numeric, refunded_total numeric, cancelled_at timestamptz,
      financial_status text,
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
  if p_kind in ('products', 'collections') then
    -- Deletes wait for this load, or it for them: a delete always wins (lock_shopify_catalog).
    perform public.lock_shopify_catalog(p_user_id);
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
        s.created_at,
        s.refunded_total
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
        coalesce((p.r).total, 0) - coalesce((p.r).refunded_total, 0) as total,
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
