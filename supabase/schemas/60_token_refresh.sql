-- Tokens that expire (Shopify about an hour, Pinterest 30 days) are refreshed ahead of time by a
-- periodic worker job. This lists what is due; the refresher then locks each row FOR UPDATE SKIP
-- LOCKED, so two workers never refresh the same integration and a rotated refresh token is never
-- used twice.
--
-- A refresh that keeps failing without a refusal (a frozen shop, a provider answering 5xx or 402)
-- leaves its row connected and due, its expiry already past. Sorted by expiry alone such rows
-- would come first for ever, and enough of them would fill every run's list so that nobody else
-- is refreshed. So the refresher records each failure (last_error_at, cleared by the next
-- success), and rows that are failing go after the healthy ones, the longest-failing first.

create function public.integrations_due_for_refresh(
  p_provider text, p_within interval, p_limit integer default 100
)
returns setof uuid
language sql
stable
set search_path = ''
as $$
  select i.user_id
  from public.integrations as i
  where
    i.status = 'connected'
    and i.provider = p_provider
    and i.token_expires_at is not null
    and i.token_expires_at < pg_catalog.now() + p_within
  order by i.last_error_at asc nulls first, i.token_expires_at asc
  limit greatest(p_limit, 0)
$$;

comment on function public.integrations_due_for_refresh(text, interval, integer) is
'Users whose connected integration with this provider expires within the window: healthy ones '
'soonest first, then those whose last refresh failed, the longest-failing first.';

revoke all on function public.integrations_due_for_refresh(text, interval, integer) from public, anon, authenticated;
grant execute on function public.integrations_due_for_refresh(text, interval, integer) to service_role;

create function public.record_refresh_failure(p_user_id uuid, p_provider text, p_error text)
returns void
language sql
set search_path = ''
as $$
  update public.integrations as i
  set last_error = p_error, last_error_at = pg_catalog.now()
  where i.user_id = p_user_id and i.provider = p_provider and i.status = 'connected'
$$;

comment on function public.record_refresh_failure(uuid, text, text) is
'Records a token refresh that failed without a refusal: the row stays connected, and goes after '
'the healthy ones in integrations_due_for_refresh until a refresh succeeds. Service only.';

revoke all on function public.record_refresh_failure(uuid, text, text) from public, anon, authenticated;
grant execute on function public.record_refresh_failure(uuid, text, text) to service_role;
