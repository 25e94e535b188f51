-- One trigger function shared by every table that keeps an updated_at column.

create function public.update_updated_at_column()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;

comment on function public.update_updated_at_column() is
'BEFORE UPDATE trigger: stamps updated_at with the transaction time.';

-- Only ever run as a trigger, which needs no EXECUTE privilege from the updating role.
revoke all on function public.update_updated_at_column()
from public, anon, authenticated, service_role;
