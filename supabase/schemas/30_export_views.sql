-- The export catalog's SQL side. export_types() is the one list of export types every CHECK
-- reads (scheduled_exports, export_history); service/exports/catalog.py holds their fields.
-- export_products lives with the tables it reads (46_shopify_catalog.sql), which load later.
--
-- One view per export type. Each exposes exactly the field keys of its type in
-- service/exports/catalog.py (the plan's EXPORT_CONFIGS), plus user_id and export_date, the column
-- the export's date range filters on. Joins are flattened here so the export is one SELECT.
-- security_invoker: the reader's RLS applies to every table underneath, so a user sees only
-- their own rows through any view. Columns follow the catalog's field order (hence noqa: ST06).

create function public.export_types()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['leads', 'customers', 'orders', 'pins', 'quotes', 'assets', 'analytics', 'products']::text[]
$$;

comment on function public.export_types() is
'The export types (service/exports/catalog.py holds their fields). The one list SQL checks read.';

-- Pure; CHECK constraints call it with the writing role's rights.
revoke all on function public.export_types() from public, anon;
grant execute on function public.export_types() to authenticated, service_role;

create function public.export_fields(p_type text)
returns text[]
language sql
stable
parallel safe
set search_path = ''
as $$
  -- The view's own columns, in order: the one statement of each type's fields SQL has
  -- (service/exports/catalog.py names the same keys; a test holds the two equal).
  select pg_catalog.array_agg(a.attname::text order by a.attnum)
  from pg_catalog.pg_attribute as a
  where
    p_type = any(public.export_types())
    and a.attrelid = pg_catalog.to_regclass('public.export_' || p_type)
    and a.attnum > 0
    and not a.attisdropped
    and a.attname not in ('user_id', 'export_date')
$$;

comment on function public.export_fields(text) is
'The field keys of an export type, in file order: the columns of its view but user_id and '
'export_date. Null for an unknown type.';

-- Triggers on scheduled_exports call it with the writing role's rights.
revoke all on function public.export_fields(text) from public, anon;
grant execute on function public.export_fields(text) to authenticated, service_role;

create view public.export_leads
with (security_invoker = true) as
select -- noqa: ST06
  l.id,
  l.email,
  l.segment,
  l.source,
  l.quiz_completed,
  l.converted,
  l.created_at,
  l.utm_source,
  l.utm_medium,
  l.utm_campaign,
  l.user_id,
  l.created_at as export_date
from public.leads as l;

comment on view public.export_leads is
'Leads export: the catalog''s lead fields; export_date = created_at.';

create view public.export_customers
with (security_invoker = true) as
select -- noqa: ST06
  c.id,
  c.email,
  c.shopify_customer_id,
  c.segment,
  c.order_count,
  c.total_spent,
  c.first_order_at,
  c.last_order_at,
  c.journey_stage,
  coalesce(cl.tier, 'none') as loyalty_tier,
  coalesce(cl.lifetime_points_earned, 0) as lifetime_points,
  c.user_id,
  c.created_at as export_date
from public.customers as c
left join public.customer_loyalty as cl
  on c.user_id = cl.user_id and c.id = cl.customer_id;

comment on view public.export_customers is
'Customers export with loyalty tier (none without a loyalty row) and lifetime points; export_date = created_at.';

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

create view public.export_pins
with (security_invoker = true) as
select -- noqa: ST06
  p.id,
  p.title,
  b.name as board_name,
  p.status,
  coalesce(pa.impressions, 0) as impressions,
  coalesce(pa.saves, 0) as saves,
  coalesce(pa.clicks, 0) as clicks,
  coalesce(pa.engagement_rate, 0) as engagement_rate,
  p.published_at,
  p.link,
  p.pinterest_pin_id,
  p.user_id,
  p.created_at as export_date
from public.pins as p
left join public.pinterest_boards as b
  on p.user_id = b.user_id and p.board_id = b.id
left join lateral (
  -- pin_analytics holds each day's own figures: the pin's are their sum over the days stored, and
  -- its engagement rate is the days' rates weighted by their impressions (engagements over
  -- impressions).
  select
    sum(a.impressions)::bigint as impressions,
    sum(a.saves)::bigint as saves,
    sum(a.clicks)::bigint as clicks,
    -- A weighted mean of rates that fit numeric(9, 6) fits it too.
    round(sum(a.engagement_rate * a.impressions) / nullif(sum(a.impressions), 0), 6)::numeric(9, 6) as engagement_rate
  from public.pin_analytics as a
  where a.user_id = p.user_id and a.pin_id = p.id
) as pa on true;

comment on view public.export_pins is
'Pins export with board name and the pin''s metrics summed over the days synced (zeros before the '
'first; engagement rate weighted by impressions); export_date = created_at.';

create view public.export_quotes
with (security_invoker = true) as
select -- noqa: ST06
  q.id,
  q.text,
  q.attribution,
  q.collection,
  q.mood,
  q.status,
  (
    select count(*) from public.assets as a
    where a.user_id = q.user_id and a.quote_id = q.id
  ) as assets_count,
  q.created_at,
  q.user_id,
  q.created_at as export_date
from public.quotes as q;

comment on view public.export_quotes is
'Quotes export with the number of assets generated from each; export_date = created_at.';

create view public.export_assets
with (security_invoker = true) as
select -- noqa: ST06
  a.id,
  q.text as quote_text,
  a.format,
  a.status,
  a.quality_score,
  a.url,
  a.created_at,
  a.user_id,
  a.created_at as export_date
from public.assets as a
inner join public.quotes as q
  on a.user_id = q.user_id and a.quote_id = q.id;

comment on view public.export_assets is
'Assets export with the text of the quote each was made from; export_date = created_at.';

create view public.export_analytics
with (security_invoker = true) as
select -- noqa: ST06
  m.date,
  m.revenue,
  m.orders,
  m.new_customers,
  m.new_leads,
  m.quiz_completions,
  m.pin_impressions,
  m.pin_clicks,
  m.user_id,
  m.date as export_date
from public.daily_metrics as m;

comment on view public.export_analytics is
'Analytics export: one row per day of daily_metrics; export_date = date (a date, not a timestamp).';

revoke all on table
public.export_leads,
public.export_customers,
public.export_orders,
public.export_pins,
public.export_quotes,
public.export_assets,
public.export_analytics
from anon, authenticated, service_role;

grant select on table
public.export_leads,
public.export_customers,
public.export_orders,
public.export_pins,
public.export_quotes,
public.export_assets,
public.export_analytics
to authenticated, service_role;
