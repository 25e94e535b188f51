-- Tokens that expire (Shopify about an hour, Pinterest 30 days) are refreshed ahead of time by a
-- periodic worker job. This lists what is due; the refresher then locks each row FOR UPDATE SKIP
-- LOCKED, so two workers never refresh the same integration and a rotated refresh token is never
-- used twice.

create function public.integrations_due_for_refresh(p_provider text, p_within interval, p_limit integer default 100)
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
  order by i.token_expires_at
  limit greatest(p_limit, 0)
$$;

comment on function public.integrations_due_for_refresh(text, interval, integer) is
'Users whose connected integration with this provider expires within the window, soonest first.';

revoke all on function public.integrations_due_for_refresh(text, interval, integer) from public, anon, authenticated;
grant execute on function public.integrations_due_for_refresh(text, interval, integer) to service_role;
