-- A handled delivery's row is kept only so that a redelivery of it is recognised (Shopify retries
-- a delivery it did not get a 2xx for up to 8 times over 4 hours) and so the shop owner can see
-- recent traffic. Without an end, the inbox would grow with every order for ever. Rows still
-- waiting (`received`) or `failed` (kept with their body for the operator) are never pruned.

create function public.prune_shopify_webhook_events(p_older_than interval)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  pruned integer;
begin
  if p_older_than is null or p_older_than < interval '1 day' then
    raise exception 'prune_shopify_webhook_events: p_older_than must be at least 1 day (Shopify redelivers '
      'for up to 4 hours, and a pruned delivery would be applied again)'
      using errcode = '22023';
  end if;
  -- No index on received_at alone: every delivery would pay for it on the hot path, and a
  -- periodic scan costs less.
  delete from public.shopify_webhook_events as e
  where
    e.status in ('processed', 'ignored', 'unknown_shop')
    and e.received_at < pg_catalog.now() - p_older_than;
  get diagnostics pruned = row_count;
  return pruned;
end
$$;

comment on function public.prune_shopify_webhook_events(interval) is
'Deletes handled inbox rows (processed, ignored, unknown shop) received more than p_older_than '
'ago (at least 1 day); returns how many. Waiting and failed rows stay. Service only.';

revoke all on function public.prune_shopify_webhook_events(interval) from public, anon, authenticated;
grant execute on function public.prune_shopify_webhook_events(interval) to service_role;
