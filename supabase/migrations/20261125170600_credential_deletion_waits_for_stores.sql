-- delete_credentials did not take the integration row lock that store_credential takes. A store
-- that began while a deletion was under way found the old secret still visible, waited on it,
-- then replaced nothing (the secret was gone) and reported success: the new credential was lost
-- (found in review). The deletion now takes the same lock, so the two run one after the other.

create or replace function public.delete_credentials(
  p_user_id uuid,
  p_provider text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform
  from public.integrations as i
  where i.user_id = p_user_id and i.provider = p_provider
  for update;
  -- The delete trigger removes each row's Vault secret.
  delete from public.integration_credentials as c
  where c.user_id = p_user_id and c.provider = p_provider;
end
$$;

comment on function public.delete_credentials(uuid, text) is
'Deletes every credential of one integration, and their Vault secrets, under the integration''s '
'row lock (as store_credential takes it). Service only.';
