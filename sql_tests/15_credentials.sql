-- Tests supabase/schemas/15_credentials.sql.
-- store_credential / get_credential / delete_credentials over Vault: who may call them, the
-- round trip, replacement in place, no Vault secret outliving its integration or user, and the
-- audit every read leaves.
begin;
select plan(40);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

-- Nobody but the service (and the owner) may call a credential function.
select is_empty(
  $$
    select p.oid::regprocedure, r.rolname
    from pg_catalog.pg_proc as p
    cross join pg_catalog.unnest(array['public', 'anon', 'authenticated']) as r (rolname)
    where p.oid in (
      'public.store_credential(uuid, text, text, text)'::regprocedure,
      'public.get_credential(uuid, text, text, text, text)'::regprocedure,
      'public.delete_credentials(uuid, text)'::regprocedure,
      'public.delete_credential_secret()'::regprocedure
    )
      and case
        when r.rolname = 'public' then exists (
          select from pg_catalog.aclexplode(p.proacl) as a
          where a.grantee = 0 and a.privilege_type = 'EXECUTE'
        )
        else pg_catalog.has_function_privilege(r.rolname, p.oid, 'execute')
      end
  $$,
  'PUBLIC, anon and authenticated may execute no credential function'
);
select ok(
  pg_catalog.has_function_privilege('service_role', 'public.get_credential(uuid, text, text, text, text)', 'execute'),
  'service_role may execute get_credential'
);
select is(
  (
    select pg_catalog.bool_and(p.prosecdef and p.proconfig @> array['search_path=""'])
    from pg_catalog.pg_proc as p
    where p.oid in (
      'public.store_credential(uuid, text, text, text)'::regprocedure,
      'public.get_credential(uuid, text, text, text, text)'::regprocedure,
      'public.delete_credentials(uuid, text)'::regprocedure
    )
  ),
  true,
  'the credential functions are SECURITY DEFINER with an empty search_path'
);

-- Store as the service, then try every function as others.
select tests.authenticate_as_service();
select lives_ok(
  format($$select public.store_credential(%L, 'shopify', 'access_token', 'shpat_alice_1')$$, :'alice'),
  'service_role stores a credential'
);
select tests.authenticate_as(:'bob');
select throws_ok(
  format($$select public.get_credential(%L, 'shopify', 'access_token', 'tests', 'check')$$, :'alice'),
  '42501', null, 'a signed-in user cannot read another user''s token'
);
select throws_ok(
  format($$select public.get_credential(%L, 'shopify', 'access_token', 'tests', 'check')$$, :'bob'),
  '42501', null, 'a signed-in user cannot read even their own token'
);
select throws_ok(
  format($$select public.store_credential(%L, 'shopify', 'access_token', 'evil')$$, :'alice'),
  '42501', null, 'a signed-in user cannot overwrite a token'
);
select throws_ok(
  format($$select public.delete_credentials(%L, 'shopify')$$, :'alice'),
  '42501', null, 'a signed-in user cannot delete credentials'
);
select tests.authenticate_as_anon();
select throws_ok(
  format($$select public.get_credential(%L, 'shopify', 'access_token', 'tests', 'check')$$, :'alice'),
  '42501', null, 'anon cannot read a token'
);
select throws_ok(
  format($$select public.store_credential(%L, 'shopify', 'access_token', 'evil')$$, :'alice'),
  '42501', null, 'anon cannot store a token'
);
select throws_ok(
  format($$select public.delete_credentials(%L, 'shopify')$$, :'alice'),
  '42501', null, 'anon cannot delete credentials'
);

-- Round trip.
select tests.authenticate_as_service();
select is(
  public.get_credential(:'alice', 'shopify', 'access_token', 'tests', 'check'), 'shpat_alice_1',
  'the stored value reads back'
);
select is(
  public.get_credential(:'alice', 'shopify', 'refresh_token', 'tests', 'check'), null,
  'a credential never stored reads back as null'
);
select is(
  public.get_credential(:'bob', 'shopify', 'access_token', 'tests', 'check'), null,
  'another user''s credential is not returned for this user'
);
select tests.clear_authentication();
select is(
  (select i.status from public.integrations as i where i.user_id = :'alice' and i.provider = 'shopify'),
  'disconnected',
  'storing a credential creates the integration row it belongs to'
);
select ok(
  (
    select s.secret <> 'shpat_alice_1' and s.name !~ 'shpat' and s.description !~ 'shpat'
    from public.integration_credentials as c
    inner join vault.secrets as s on c.secret_id = s.id
    where c.user_id = :'alice'
  ),
  'vault.secrets holds ciphertext, and neither the name nor the description carries the value'
);
select secret_id as first_secret_id from public.integration_credentials where user_id = :'alice' \gset

-- Replacement: one secret, same id, new value.
select tests.authenticate_as_service();
select public.store_credential(:'alice', 'shopify', 'access_token', 'shpat_alice_2');
select is(
  public.get_credential(:'alice', 'shopify', 'access_token', 'tests', 'check'), 'shpat_alice_2',
  'storing again replaces the value'
);
select tests.clear_authentication();
select results_eq(
  format(
    $$select count(*), pg_catalog.bool_and(c.secret_id = %L) from public.integration_credentials as c
      where c.user_id = %L$$,
    :'first_secret_id', :'alice'
  ),
  $$values (1::bigint, true)$$,
  'storing twice keeps one mapping, pointing at the same secret'
);
select is(
  (select count(*) from vault.secrets where name like '%' || :'alice' || '%'),
  1::bigint,
  'storing twice leaves exactly one Vault secret'
);

-- A secret deleted behind our back is recreated, not silently lost.
delete from vault.secrets where id = :'first_secret_id';
select tests.authenticate_as_service();
select public.store_credential(:'alice', 'shopify', 'access_token', 'shpat_alice_3');
select is(
  public.get_credential(:'alice', 'shopify', 'access_token', 'tests', 'check'), 'shpat_alice_3',
  'a mapping whose secret vanished gets a new secret'
);

-- Bad arguments.
select throws_ok(
  format($$select public.store_credential(%L, 'tiktok', 'api_key', 'x')$$, :'alice'),
  '22023', 'store_credential: unknown provider tiktok', 'an unknown provider is rejected'
);
select throws_ok(
  format($$select public.store_credential(%L, 'klaviyo', 'API Key', 'x')$$, :'alice'),
  '22023', null, 'a credential type that is not an identifier is rejected'
);
select throws_ok(
  format($$select public.store_credential(%L, 'klaviyo', 'api_key', '')$$, :'alice'),
  '22023', 'store_credential: the credential value is empty', 'an empty value is rejected'
);
select throws_ok(
  $$select public.store_credential(gen_random_uuid(), 'klaviyo', 'api_key', 'x')$$,
  'P0002', null, 'an unknown user is rejected'
);

-- Several credential types per integration; delete_credentials removes them all and their secrets.
select public.store_credential(:'alice', 'shopify', 'refresh_token', 'shprt_alice');
select public.store_credential(:'bob', 'shopify', 'access_token', 'shpat_bob');
select public.delete_credentials(:'alice', 'shopify');
select is(
  public.get_credential(:'alice', 'shopify', 'refresh_token', 'tests', 'check'), null,
  'deleted credentials read back as null'
);
select is(
  public.get_credential(:'bob', 'shopify', 'access_token', 'tests', 'check'), 'shpat_bob',
  'another user''s credentials are kept'
);
select tests.clear_authentication();
select is(
  (select count(*) from vault.secrets where name like '%' || :'alice' || '%'),
  0::bigint,
  'delete_credentials deletes the Vault secrets'
);
select is(
  (select count(*) from public.integrations where user_id = :'alice' and provider = 'shopify'),
  1::bigint,
  'delete_credentials keeps the integration row'
);

-- Deleting the integration row deletes its credentials and their secrets.
select tests.authenticate_as_service();
select public.store_credential(:'alice', 'pinterest', 'access_token', 'pina_alice');
select public.store_credential(:'alice', 'pinterest', 'refresh_token', 'pinr_alice');
delete from public.integrations where user_id = :'alice' and provider = 'pinterest';
select tests.clear_authentication();
select is(
  (select count(*) from public.integration_credentials where user_id = :'alice' and provider = 'pinterest'),
  0::bigint,
  'deleting an integration deletes its credential rows'
);
select is(
  (select count(*) from vault.secrets where name like '%' || :'alice' || '/pinterest/%'),
  0::bigint,
  'deleting an integration leaves no Vault secret behind'
);

-- Deleting the user deletes everything, Vault included.
select tests.authenticate_as_service();
select public.store_credential(:'bob', 'klaviyo', 'api_key', 'pk_bob');
select tests.clear_authentication();
select secret_id as bob_klaviyo_secret from public.integration_credentials
where user_id = :'bob' and provider = 'klaviyo' \gset
select is(
  (select count(*) from vault.secrets where name like '%' || :'bob' || '%'),
  2::bigint,
  'bob has two secrets before his account is deleted'
);
delete from auth.users where id = :'bob';
select is(
  (select count(*) from vault.secrets where name like '%' || :'bob' || '%' or id = :'bob_klaviyo_secret'),
  0::bigint,
  'deleting a user leaves no Vault secret behind'
);
select is(
  (select count(*) from public.integrations where user_id = :'bob'),
  0::bigint,
  'deleting a user deletes their integrations'
);
select is(
  (select count(*) from public.integration_credentials where user_id = :'bob'),
  0::bigint,
  'deleting a user deletes their credential rows'
);

-- Every read leaves an audit row, never the value; users see their own; a read must say who and why.
select tests.clear_authentication();
select is(
  (select count(*) from public.credential_reads where user_id = :'alice' and reader = 'tests'),
  (select count(*) from public.credential_reads where user_id = :'alice'),
  'each read of alice''s credentials was recorded with its reader'
);
select ok(
  (select count(*) > 0 from public.credential_reads where user_id = :'alice' and found),
  'reads that found a credential say so'
);
select is_empty(
  $$select from public.credential_reads as r
    where r.reader like '%shpat%' or r.purpose like '%shpat%'$$,
  'no audit row holds a value'
);
select tests.authenticate_as_service();
select throws_ok(
  format($$select public.get_credential(%L, 'shopify', 'access_token', ' ', 'why')$$, :'alice'),
  '22023', null, 'a read that does not say who reads is refused'
);
select tests.authenticate_as(:'alice');
select is(
  (select count(*) from public.credential_reads where user_id <> :'alice'), 0::bigint,
  'a user sees only the reads of their own credentials'
);
select tests.authenticate_as_service();
select throws_ok(
  $$select public.prune_credential_reads(interval '1 hour')$$, '22023', null, 'the audit keeps at least a day'
);

select * from finish();
rollback;
