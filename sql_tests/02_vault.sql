-- Catalogue-wide: tests no single file of supabase/schemas/, so it takes a prefix no schema file
-- uses (00-09 and 90-99 are kept for such files; NN_<concern>.sql tests schemas/NN_<concern>.sql).
--
-- The Vault of supabase/local/02_vault.sql: supabase_vault 0.3's interface, real encryption,
-- and Supabase's grants. Runs as postgres, which holds what Supabase grants it and no more.
-- (Tampering with vault.secrets needs its owner: tests/test_supabase_privileges.py tries it.)
begin;
select plan(36);

select is(
  (select e.extnamespace::regnamespace::text from pg_catalog.pg_extension as e where e.extname = 'pgcrypto'),
  'extensions',
  'pgcrypto is installed in schema extensions'
);
select columns_are(
  'vault', 'secrets',
  array['id', 'name', 'description', 'secret', 'key_id', 'nonce', 'created_at', 'updated_at']
);
select results_eq(
  $$
    select a.attname
    from pg_catalog.pg_attribute as a
    where a.attrelid = 'vault.decrypted_secrets'::regclass and a.attnum > 0
    order by a.attnum
  $$,
  $$
    values
    ('id'::name), ('name'), ('description'), ('secret'), ('decrypted_secret'),
    ('key_id'), ('nonce'), ('created_at'), ('updated_at')
  $$,
  'vault.decrypted_secrets has supabase_vault''s columns in supabase_vault''s order'
);
select has_function(
  'vault', 'create_secret', array['text', 'text', 'text', 'uuid'],
  'vault.create_secret(new_secret, new_name, new_description, new_key_id) exists'
);
select has_function(
  'vault', 'update_secret', array['uuid', 'text', 'text', 'text', 'uuid'],
  'vault.update_secret(secret_id, new_secret, new_name, new_description, new_key_id) exists'
);

-- Round trip, as the service does it.
select tests.authenticate_as_service();
select vault.create_secret('shpat_round-trip-plaintext', 'test/shopify', 'a test token') as secret_id \gset

select results_eq(
  format(
    'select name, description, decrypted_secret collate "default" from vault.decrypted_secrets where id = %L',
    :'secret_id'
  ),
  $$ values ('test/shopify', 'a test token', 'shpat_round-trip-plaintext') $$,
  'a created secret reads back through vault.decrypted_secrets'
);
select isnt(
  (select s.secret from vault.secrets as s where s.id = :'secret_id'),
  'shpat_round-trip-plaintext',
  'vault.secrets holds ciphertext, not the plaintext'
);
select is(
  (
    select
      pg_catalog.strpos(s.secret, 'round-trip')
      + position(pg_catalog.convert_to('round-trip', 'utf8') in pg_catalog.decode(s.secret, 'base64'))
    from vault.secrets as s where s.id = :'secret_id'
  ),
  0,
  'no part of the plaintext appears in the stored secret, encoded or decoded'
);
select is(
  (select s.secret ~ '^[A-Za-z0-9+/=\n]+$' from vault.secrets as s where s.id = :'secret_id'),
  true,
  'the stored secret is base64'
);
select ok(
  (select s.nonce is not null from vault.secrets as s where s.id = :'secret_id'),
  'each secret has a nonce'
);
-- As supabase_vault's view: convert_from(..., 'utf8'::name) gives decrypted_secret collation "C",
-- so a row holding it cannot be compared with a row of default-collation text (our tests, like
-- supabase_vault's, say COLLATE "default").
select is(
  (select pg_catalog.pg_collation_for(d.decrypted_secret) from vault.decrypted_secrets as d where d.id = :'secret_id'),
  '"C"',
  'decrypted_secret has collation "C", as in supabase_vault'
);
select throws_ok(
  format(
    'select x is distinct from y from (select decrypted_secret from vault.decrypted_secrets where id = %L) as x,'
    ' (values (%L)) as y',
    :'secret_id', 'shpat_round-trip-plaintext'
  ),
  '42P22', 'could not determine which collation to use for string comparison',
  'comparing rows that hold decrypted_secret needs a COLLATE clause, as on Supabase'
);

-- Replacement.
select secret as old_ciphertext from vault.secrets where id = :'secret_id' \gset
select lives_ok(
  format('select vault.update_secret(%L, %L)', :'secret_id', 'shpat_rotated'),
  'service_role replaces a secret'
);
select results_eq(
  format(
    'select name, description, decrypted_secret collate "default" from vault.decrypted_secrets where id = %L',
    :'secret_id'
  ),
  $$ values ('test/shopify', 'a test token', 'shpat_rotated') $$,
  'the replaced value reads back; name and description are kept'
);
select isnt(
  (select s.secret from vault.secrets as s where s.id = :'secret_id'),
  :'old_ciphertext',
  'replacing a secret replaces its ciphertext'
);
select lives_ok(
  format(
    'select vault.update_secret(%L, new_name => %L, new_description => %L)',
    :'secret_id', 'test/renamed', 'renamed'
  ),
  'service_role renames a secret without touching its value'
);
select results_eq(
  format(
    'select name, description, decrypted_secret collate "default" from vault.decrypted_secrets where id = %L',
    :'secret_id'
  ),
  $$ values ('test/renamed', 'renamed', 'shpat_rotated') $$,
  'a rename keeps the value'
);
select throws_ok(
  $$ select vault.create_secret('another', 'test/renamed') $$,
  '23505', null,
  'secret names are unique'
);
select lives_ok(
  $$ select vault.create_secret('nameless one'), vault.create_secret('nameless two') $$,
  'any number of secrets may have no name'
);

-- postgres, the migration role, may read and delete secrets but never write vault.secrets
-- directly (Supabase grants it no INSERT or UPDATE), nor read the root key.
select tests.clear_authentication();
select vault.create_secret('second plaintext', 'test/second') as second_id \gset
select throws_ok(
  $$ insert into vault.secrets (secret) values ('unencrypted') $$,
  '42501', 'permission denied for table secrets',
  'postgres cannot insert into vault.secrets'
);
select throws_ok(
  format('update vault.secrets set secret = %L where id = %L', 'swapped', :'second_id'),
  '42501', 'permission denied for table secrets',
  'postgres cannot update vault.secrets'
);
select table_privs_are('vault', 'secrets', 'postgres', array['DELETE', 'SELECT']);

-- Supabase's grants: service_role may read and delete, and call the two functions.
select table_privs_are('vault', 'secrets', 'service_role', array['DELETE', 'SELECT']);
select table_privs_are('vault', 'decrypted_secrets', 'service_role', array['DELETE', 'SELECT']);
select tests.authenticate_as_service();
select lives_ok(
  format('delete from vault.decrypted_secrets where id = %L', :'second_id'),
  'service_role deletes a secret through vault.decrypted_secrets'
);
select throws_ok(
  $$ insert into vault.secrets (secret) values ('unencrypted') $$,
  '42501', null,
  'service_role cannot write vault.secrets directly, so every stored secret is encrypted'
);
select throws_ok(
  'select vault._local_root_key()', '42501', null,
  'service_role cannot read the root key'
);
select tests.clear_authentication();
select is_empty(
  $$
    select p.oid::regprocedure, a.grantee::regrole
    from pg_catalog.pg_proc as p
    cross join lateral pg_catalog.aclexplode(p.proacl) as a
    where p.pronamespace = 'vault'::regnamespace
      and p.proname in ('_local_root_key', '_local_passphrase', '_crypto_aead_det_encrypt')
      and a.grantee <> p.proowner
  $$,
  'nobody but their owner may read the root key or encrypt with it'
);
select is(
  (select p.proowner::regrole::text from pg_catalog.pg_proc as p where p.oid = 'vault._local_root_key()'::regprocedure),
  'supabase_admin',
  'the root key is supabase_admin''s'
);

-- anon and authenticated get nothing at all.
select is_empty(
  $$
    select r.rolname, c.oid::regclass::text
    from pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    cross join pg_catalog.pg_class as c
    where c.relnamespace = 'vault'::regnamespace
      and c.relkind in ('r', 'v')
      and pg_catalog.has_table_privilege(
        r.rolname, c.oid, 'select, insert, update, delete, truncate, references, trigger'
      )
    union all
    select r.rolname, p.oid::regprocedure::text
    from pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    cross join pg_catalog.pg_proc as p
    where p.pronamespace = 'vault'::regnamespace
      and pg_catalog.has_function_privilege(r.rolname, p.oid, 'execute')
    union all
    select r.rolname, 'schema vault'
    from pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    where pg_catalog.has_schema_privilege(r.rolname, 'vault', 'usage')
  $$,
  'anon and authenticated hold no privilege on the vault schema or anything in it'
);

select tests.create_user('vault-test@example.com') as user_id \gset
select tests.authenticate_as(:'user_id');
select throws_ok(
  'select * from vault.decrypted_secrets', '42501', null,
  'authenticated cannot read vault.decrypted_secrets'
);
select throws_ok(
  'select * from vault.secrets', '42501', null,
  'authenticated cannot read vault.secrets'
);
select throws_ok(
  $$ select vault.create_secret('x') $$, '42501', null,
  'authenticated cannot create a secret'
);
select throws_ok(
  format('select vault.update_secret(%L, %L)', :'secret_id', 'stolen'), '42501', null,
  'authenticated cannot replace a secret'
);
select tests.authenticate_as_anon();
select throws_ok(
  'select * from vault.decrypted_secrets', '42501', null,
  'anon cannot read vault.decrypted_secrets'
);
select throws_ok(
  $$ select vault.create_secret('x') $$, '42501', null,
  'anon cannot create a secret'
);
select tests.clear_authentication();

select * from finish();
rollback;
