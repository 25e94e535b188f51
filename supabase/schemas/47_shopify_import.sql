-- The initial import of a shop's data through Shopify's Bulk Operations: one import per request
-- (POST /api/shopify/import, or the wizard's import step), one bulk query operation per kind of
-- object (customers, orders with line items, products with variants and images, collections with
-- their products). The service starts the operations, learns they finished from the
-- bulk_operations/finish webhook or by polling, streams each JSONL result into a temporary table
-- with COPY and writes it with the same set-based functions the webhooks use
-- (42_shopify_order_sync.sql, 46_shopify_catalog.sql), so a webhook that arrives during an import
-- wins when it is newer, and a second import changes nothing.
--
-- Progress is SQL: every bulk operation is a row (its Shopify state, the objects read, the rows
-- written); one that failed, was cancelled, expired or left only partial data stays recorded as
-- such, and another operation is started for its kind. An import completes only when every kind
-- was loaded from a complete result; it then completes the wizard's import step.

create table public.shopify_imports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text not null,
  status text not null default 'running'
  constraint shopify_imports_status_valid check (status in ('running', 'completed', 'failed')),
  error text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint shopify_imports_user_id_id_key unique (user_id, id),
  constraint shopify_imports_finished_when_done check ((status = 'running') = (finished_at is null))
);

comment on table public.shopify_imports is
'Initial imports of a shop''s data through Shopify Bulk Operations: running, completed (every kind '
'loaded from a complete result) or failed. Written by the service; users read their own.';

-- One import runs at a time per account; it serves the user_id foreign key too.
create unique index shopify_imports_one_running_idx
on public.shopify_imports (user_id)
where status = 'running';

create index shopify_imports_user_id_started_at_idx
on public.shopify_imports (user_id, started_at desc);

create trigger shopify_imports_set_updated_at
before update on public.shopify_imports
for each row execute function public.update_updated_at_column();

alter table public.shopify_imports enable row level security;

create policy shopify_imports_select_own on public.shopify_imports
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_imports from anon, authenticated, service_role;
grant select on table public.shopify_imports to authenticated;
grant select, insert, update, delete on table public.shopify_imports to service_role;

create table public.shopify_bulk_operations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  import_id uuid not null,
  kind text not null
  constraint shopify_bulk_operations_kind_valid check (kind in ('customers', 'orders', 'products', 'collections')),
  -- Shopify's gid of the operation.
  shopify_bulk_operation_id text not null
  constraint shopify_bulk_operations_gid_not_blank check (btrim(shopify_bulk_operation_id) <> ''),
  -- created, running: Shopify is at work; completed: the result waits to be loaded; loaded: its
  -- rows are written; failed, canceled, expired, partial (only partialDataUrl): recorded, and
  -- another operation is started for the kind.
  status text not null default 'created'
  constraint shopify_bulk_operations_status_valid check (
    status in ('created', 'running', 'completed', 'loaded', 'failed', 'canceled', 'expired', 'partial')
  ),
  error_code text,
  error text,
  -- Shopify's objectCount while it runs; the JSONL lines read once loaded.
  objects_read bigint not null default 0
  constraint shopify_bulk_operations_objects_read_not_negative check (objects_read >= 0),
  rows_written bigint not null default 0
  constraint shopify_bulk_operations_rows_written_not_negative check (rows_written >= 0),
  created_at timestamptz not null default now(),
  checked_at timestamptz not null default now(),
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint shopify_bulk_operations_user_id_gid_key unique (user_id, shopify_bulk_operation_id),
  constraint shopify_bulk_operations_import_fkey foreign key (user_id, import_id)
  references public.shopify_imports (user_id, id) on delete cascade
);

comment on table public.shopify_bulk_operations is
'One Shopify bulk query operation of an import: its kind, Shopify state, objects read and rows '
'written; failed, canceled, expired and partial ones stay recorded. Written by the service.';

create index shopify_bulk_operations_user_id_import_id_idx
on public.shopify_bulk_operations (user_id, import_id, kind);

-- The poller reads the operations still in flight.
create index shopify_bulk_operations_in_flight_idx
on public.shopify_bulk_operations (checked_at)
where status in ('created', 'running', 'completed');

create trigger shopify_bulk_operations_set_updated_at
before update on public.shopify_bulk_operations
for each row execute function public.update_updated_at_column();

alter table public.shopify_bulk_operations enable row level security;

create policy shopify_bulk_operations_select_own on public.shopify_bulk_operations
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_bulk_operations from anon, authenticated, service_role;
grant select on table public.shopify_bulk_operations to authenticated;
grant select, insert, update, delete on table public.shopify_bulk_operations to service_role;

create function public.shopify_import_kinds()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['customers', 'orders', 'products', 'collections']::text[]
$$;

comment on function public.shopify_import_kinds() is
'The kinds of object an import reads, one bulk operation each, in the order they are started.';

revoke all on function public.shopify_import_kinds() from public, anon, authenticated;
grant execute on function public.shopify_import_kinds() to service_role;

create function public.start_shopify_import(p_user_id uuid)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  shop text;
  import_id uuid;
begin
  select i.metadata ->> 'shop_domain' into shop
  from public.integrations as i
  where i.user_id = p_user_id and i.provider = 'shopify' and i.status = 'connected';
  if coalesce(shop, '') = '' then
    raise exception 'connect a Shopify shop before importing its data' using errcode = '55000';
  end if;
  select si.id into import_id
  from public.shopify_imports as si
  where si.user_id = p_user_id and si.status = 'running';
  if found then
    return import_id;  -- one import at a time: the running one
  end if;
  insert into public.shopify_imports (user_id, shop_domain) values (p_user_id, shop)
  returning id into import_id;
  perform public.queue_for_retry(
    p_user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', import_id),
    p_reference_id => import_id, p_reference_table => 'shopify_imports'
  );
  perform public.log_activity(
    p_user_id, 'shopify_import_started', pg_catalog.jsonb_build_object('import_id', import_id), true, 'settings'
  );
  return import_id;
end
$$;

comment on function public.start_shopify_import(uuid) is
'Starts an import of the connected shop''s data (queues shopify.import_start); while one runs, '
'returns that one. 55000 when no shop is connected.';

revoke all on function public.start_shopify_import(uuid) from public, anon, authenticated;
grant execute on function public.start_shopify_import(uuid) to service_role;

create function public.shopify_bulk_status(p_shopify_status text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- Shopify's BulkOperationStatus (upper case in GraphQL, lower case in the finish webhook) as
  -- ours; CANCELING is still in flight. Null for a value the contract does not name.
  select case pg_catalog.upper(p_shopify_status)
    when 'CREATED' then 'created'
    when 'RUNNING' then 'running'
    when 'CANCELING' then 'running'
    when 'COMPLETED' then 'completed'
    when 'FAILED' then 'failed'
    when 'CANCELED' then 'canceled'
    when 'CANCELLED' then 'canceled'
    when 'EXPIRED' then 'expired'
  end
$$;

comment on function public.shopify_bulk_status(text) is
'Shopify''s bulk operation status (either case) as a shopify_bulk_operations status; null if unknown.';

revoke all on function public.shopify_bulk_status(text) from public, anon, authenticated;
grant execute on function public.shopify_bulk_status(text) to service_role;

create function public.record_shopify_bulk_progress(
  p_operation_id uuid, p_shopify_status text, p_objects bigint default null
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  next_status text := public.shopify_bulk_status(p_shopify_status);
  current_status text;
begin
  if next_status is null or next_status not in ('created', 'running', 'completed') then
    raise exception 'record_shopify_bulk_progress: not an in-flight status: %', p_shopify_status
      using errcode = '22023';
  end if;
  update public.shopify_bulk_operations as b
  set
    status = case when b.status in ('created', 'running') then next_status else b.status end,
    objects_read = greatest(b.objects_read, coalesce(p_objects, 0)),
    checked_at = pg_catalog.now()
  where b.id = p_operation_id
  returning b.status into current_status;
  if not found then
    raise exception 'record_shopify_bulk_progress: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  return current_status;
end
$$;

comment on function public.record_shopify_bulk_progress(uuid, text, bigint) is
'Records an in-flight bulk operation''s Shopify status and object count; a finished row keeps its status.';

revoke all on function public.record_shopify_bulk_progress(uuid, text, bigint) from public, anon, authenticated;
grant execute on function public.record_shopify_bulk_progress(uuid, text, bigint) to service_role;

create function public.fail_shopify_bulk_operation(
  p_operation_id uuid, p_status text, p_error_code text, p_error text, p_max_failures integer default 5
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op public.shopify_bulk_operations%rowtype;
  failures integer;
begin
  if p_status is null or p_status not in ('failed', 'canceled', 'expired', 'partial') then
    raise exception 'fail_shopify_bulk_operation: status must be failed, canceled, expired or partial, not %',
      coalesce(p_status, 'null') using errcode = '22023';
  end if;
  select b.* into op from public.shopify_bulk_operations as b where b.id = p_operation_id for update;
  if not found then
    raise exception 'fail_shopify_bulk_operation: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  if op.status not in ('created', 'running', 'completed') then
    return op.status;  -- already finished: a second report changes nothing
  end if;
  update public.shopify_bulk_operations as b
  set
    status = p_status, error_code = p_error_code, error = pg_catalog.left(p_error, 2000),
    finished_at = pg_catalog.now(), checked_at = pg_catalog.now()
  where b.id = p_operation_id;

  select pg_catalog.count(*) into failures
  from public.shopify_bulk_operations as b
  where
    b.user_id = op.user_id and b.import_id = op.import_id and b.kind = op.kind
    and b.status in ('failed', 'canceled', 'expired', 'partial');
  if failures >= p_max_failures then
    update public.shopify_imports as si
    set
      status = 'failed', finished_at = pg_catalog.now(),
      error = pg_catalog.format('the %s bulk operation did not complete %s times (last: %s)', op.kind, failures, p_status)
    where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running';
    return 'import failed';
  end if;
  -- Another operation for this kind (and any kind not started yet).
  if exists (
    select from public.shopify_imports as si
    where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running'
  ) then
    perform public.queue_for_retry(
      op.user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', op.import_id),
      p_reference_id => op.import_id, p_reference_table => 'shopify_imports'
    );
  end if;
  return 'retrying';
end
$$;

comment on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer) is
'Records a bulk operation that failed, was canceled, expired or left only partial data, and queues '
'another for its kind; after p_max_failures of one kind the import fails. Never marks anything complete.';

revoke all on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer)
from public, anon, authenticated;
grant execute on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer) to service_role;

create function public.finish_shopify_bulk_load(p_operation_id uuid, p_objects bigint, p_rows bigint)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op public.shopify_bulk_operations%rowtype;
  missing text [];
begin
  select b.* into op from public.shopify_bulk_operations as b where b.id = p_operation_id for update;
  if not found then
    raise exception 'finish_shopify_bulk_load: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  if op.status = 'loaded' then
    return 'already loaded';
  end if;
  if op.status not in ('created', 'running', 'completed') then
    raise exception 'finish_shopify_bulk_load: bulk operation % is %', p_operation_id, op.status
      using errcode = '55000';
  end if;
  update public.shopify_bulk_operations as b
  set
    status = 'loaded', objects_read = coalesce(p_objects, 0), rows_written = coalesce(p_rows, 0),
    finished_at = pg_catalog.now(), checked_at = pg_catalog.now()
  where b.id = p_operation_id;

  select pg_catalog.array_agg(k) into missing
  from pg_catalog.unnest(public.shopify_import_kinds()) as k
  where not exists (
    select from public.shopify_bulk_operations as b
    where b.user_id = op.user_id and b.import_id = op.import_id and b.kind = k and b.status = 'loaded'
  );
  if missing is not null then
    -- Kinds not started yet (one operation at a time on older API versions) start now.
    perform public.queue_for_retry(
      op.user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', op.import_id),
      p_reference_id => op.import_id, p_reference_table => 'shopify_imports'
    );
    return 'loaded';
  end if;
  update public.shopify_imports as si
  set status = 'completed', finished_at = pg_catalog.now(), error = null
  where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running';
  if found then
    begin
      perform public.set_setup_step_for_user(op.user_id, 'import', 'completed');
    exception
      when no_data_found then null;  -- a user without a settings row still gets their data
    end;
    perform public.log_activity(
      op.user_id, 'shopify_import_completed', pg_catalog.jsonb_build_object('import_id', op.import_id), true,
      'settings'
    );
  end if;
  return 'import completed';
end
$$;

comment on function public.finish_shopify_bulk_load(uuid, bigint, bigint) is
'Marks a bulk operation loaded with its counts; when every kind of its import is loaded the import '
'completes and so does the wizard''s import step. Otherwise queues the start of the kinds left.';

revoke all on function public.finish_shopify_bulk_load(uuid, bigint, bigint) from public, anon, authenticated;
grant execute on function public.finish_shopify_bulk_load(uuid, bigint, bigint) to service_role;

create function public.record_shopify_bulk_finish(p_user_id uuid, p_shop_domain text, p_payload jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op_id uuid;
begin
  -- {"admin_graphql_api_id": "gid://shopify/BulkOperation/…", "status": "completed", "error_code": …}
  select b.id into op_id
  from public.shopify_bulk_operations as b
  inner join public.shopify_imports as si on b.user_id = si.user_id and b.import_id = si.id
  where
    b.user_id = p_user_id
    and si.shop_domain = p_shop_domain
    and b.shopify_bulk_operation_id = p_payload ->> 'admin_graphql_api_id'
    and b.status in ('created', 'running', 'completed');
  if op_id is null then
    return null;  -- not ours, or already finished: nothing to do
  end if;
  -- The webhook says it finished; the check reads the result's URL (the webhook does not carry it)
  -- and loads it, or records the failure.
  update public.shopify_bulk_operations as b set checked_at = pg_catalog.now() where b.id = op_id;
  perform public.queue_for_retry(
    p_user_id, 'shopify.import_check', pg_catalog.jsonb_build_object('operation_id', op_id),
    p_reference_id => op_id, p_reference_table => 'shopify_bulk_operations'
  );
  return 'bulk operation ' || coalesce(p_payload ->> 'status', 'finished');
end
$$;

comment on function public.record_shopify_bulk_finish(uuid, text, jsonb) is
'bulk_operations/finish: queues the check (and load) of the named bulk operation if it is one of '
'this shop''s in flight; null otherwise.';

revoke all on function public.record_shopify_bulk_finish(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function public.record_shopify_bulk_finish(uuid, text, jsonb) to service_role;

create function public.queue_shopify_bulk_checks(p_older_than interval)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  queued integer;
begin
  -- The fallback when no finish webhook arrives: every operation in flight not checked for a
  -- while and without a check already waiting gets one.
  with due as (
    update public.shopify_bulk_operations as b
    set checked_at = pg_catalog.now()
    where
      b.status in ('created', 'running', 'completed')
      and b.checked_at <= pg_catalog.now() - p_older_than
      -- An operation of an import that ended (failed, redacted) is nobody's business any more.
      and exists (
        select from public.shopify_imports as si
        where si.user_id = b.user_id and si.id = b.import_id and si.status = 'running'
      )
      and not exists (
        select from public.retry_queue as q
        where
          q.reference_table = 'shopify_bulk_operations' and q.reference_id = b.id
          and q.status in ('pending', 'processing')
      )
    returning b.id, b.user_id
  )

  select pg_catalog.count(public.queue_for_retry(
    d.user_id, 'shopify.import_check', pg_catalog.jsonb_build_object('operation_id', d.id),
    p_reference_id => d.id, p_reference_table => 'shopify_bulk_operations'
  )) into queued
  from due as d;
  return queued;
end
$$;

comment on function public.queue_shopify_bulk_checks(interval) is
'Queues shopify.import_check for every bulk operation in flight of a running import not checked '
'within p_older_than (and without a check waiting); returns how many.';

revoke all on function public.queue_shopify_bulk_checks(interval) from public, anon, authenticated;
grant execute on function public.queue_shopify_bulk_checks(interval) to service_role;

create function public.analyze_shopify_import_targets(p_kind text)
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

create function public.import_shopify_bulk_stage(
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
