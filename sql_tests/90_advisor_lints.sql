-- Catalogue-wide: tests no single file of supabase/schemas/, so it takes a prefix no schema file
-- uses (00-09 and 90-99 are kept for such files; NN_<concern>.sql tests schemas/NN_<concern>.sql).
--
-- Supabase's database advisor (the supabase/splinter lints) must find nothing in our schema.
-- Each test below is our own catalogue query for one splinter lint (named as splinter names it,
-- with its level), run over every schema our migrations own, so a later migration is held to it
-- without being listed here. On failure the test lists the offending objects.
--
-- Scope: "owned" schemas are every schema except Postgres's own, those Supabase manages (auth,
-- storage, vault, extensions, realtime, graphql...), those an extension created, and `tests`
-- (pgTAP helpers, never deployed). "API" schemas are public plus any in pgrst.db_schemas.
-- Where splinter looks further (auth_users_exposed, fkey_to_auth_unique, extension_in_public,
-- pg17_deprecated_extensions) so do we. Several tests are stricter than splinter; each says how.
--
-- Not enforced, because a schema test cannot see what they read:
--   unused_index (0005), table_bloat (0020), unused_replication_slot (0031): runtime statistics
--     of a live database, empty in a fresh one.
--   auth_allow_anonymous_sign_ins (0012): a setting of the Auth server, not of the schema.
--   extension_versions_outdated (0022): compares with the versions the platform's image ships,
--     which the local stack does not have.
--   public_bucket_allows_listing (0025): reads rows of storage.buckets; the local stack has no
--     storage schema and our migrations create no bucket.
--   pg_graphql_authenticated_table_exposed (0027): fires, by design, for every table the
--     `authenticated` role may read while pg_graphql is installed (the default on Supabase), so
--     it cannot pass for an app whose users read their own rows. It is a project setting:
--     disable pg_graphql (Database > Extensions) if the GraphQL API is not used.
begin;
select plan(27);

-- pg_get_expr() qualifies a function only when its schema is not on the search_path; the text
-- tests on policies rely on auth.uid() printing as auth.uid(). pgTAP lives in extensions.
set local search_path = extensions;

create temporary view owned_schemas as
select n.oid as nsp
from pg_catalog.pg_namespace as n
where
  n.nspname !~ '^pg_'
  and n.nspname <> all(array[
    'information_schema', 'tests',
    'auth', 'storage', 'vault', 'extensions', 'graphql', 'graphql_public', 'realtime',
    '_realtime', 'supabase_functions', 'supabase_migrations', 'net', 'cron', 'pgsodium',
    'pgsodium_masks', 'pgbouncer', 'pgtle', 'pgmq', 'pgmq_public', 'repack', '_analytics'
  ])
  and not exists (
    select from pg_catalog.pg_depend as d
    where
      d.classid = 'pg_catalog.pg_namespace'::regclass
      and d.objid = n.oid
      and d.deptype = 'e'
  );

create temporary view api_schemas as
select n.oid as nsp
from pg_catalog.pg_namespace as n
where n.nspname = any(
  array['public']
  || pg_catalog.string_to_array(
    pg_catalog.replace(coalesce(pg_catalog.current_setting('pgrst.db_schemas', true), ''), ' ', ''), ','
  )
);

-- Relations either API role can read at least one column of (table grants included).
create temporary view api_readable as
select c.oid as relid
from pg_catalog.pg_class as c
where
  c.relkind in ('r', 'p', 'v', 'm', 'f')
  and (
    pg_catalog.has_any_column_privilege('anon', c.oid, 'select')
    or pg_catalog.has_any_column_privilege('authenticated', c.oid, 'select')
  );

-- Every policy of an owned table, with its expressions printed.
create temporary view owned_policies as
select
  pol.oid,
  pol.polrelid,
  pol.polname,
  pol.polcmd,
  pol.polpermissive,
  pol.polroles,
  c.relrowsecurity,
  pg_catalog.format('%s.%I', pol.polrelid::regclass, pol.polname) as offender,
  coalesce(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), '') as using_expr,
  coalesce(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), '') as check_expr
from pg_catalog.pg_policy as pol
inner join pg_catalog.pg_class as c on pol.polrelid = c.oid
where c.relnamespace in (select o.nsp from owned_schemas as o);

-- 0001, INFO. Stricter: a partial index, or a key in INCLUDE, does not count as covering.
select is(
  array(
    select pg_catalog.format('%s.%I', con.conrelid::regclass, con.conname) as offender
    from pg_catalog.pg_constraint as con
    where
      con.contype = 'f'
      and con.connamespace in (select o.nsp from owned_schemas as o)
      and not exists (
        select from pg_catalog.pg_index as i
        where
          i.indrelid = con.conrelid
          and i.indisvalid
          and i.indpred is null
          and i.indnkeyatts >= pg_catalog.cardinality(con.conkey)
          and (i.indkey::int2[])[0:pg_catalog.cardinality(con.conkey) - 1] = con.conkey
      )
    order by offender
  ),
  '{}'::text[],
  'unindexed_foreign_keys (INFO): every foreign key has an index leading with its columns, in order'
);

-- 0002, WARN. Any schema but auth, not only public.
select is(
  array(
    select distinct r.ev_class::regclass::text as offender
    from pg_catalog.pg_depend as d
    inner join pg_catalog.pg_rewrite as r on d.objid = r.oid
    inner join pg_catalog.pg_class as c on r.ev_class = c.oid
    where
      d.classid = 'pg_catalog.pg_rewrite'::regclass
      and d.refclassid = 'pg_catalog.pg_class'::regclass
      and d.refobjid = 'auth.users'::regclass
      and c.relkind in ('v', 'm')
      and c.relnamespace <> 'auth'::regnamespace
      and c.oid in (select a.relid from api_readable as a)
    order by offender
  ),
  '{}'::text[],
  'auth_users_exposed (WARN): no view or materialized view over auth.users is readable by anon or authenticated'
);

-- 0003, WARN. Stricter: one wrapped call does not excuse another unwrapped one, and
-- current_setting() counts as well as auth.uid()/jwt()/role()/email().
select is(
  array(
    select p.offender
    from owned_policies as p
    where
      pg_catalog.regexp_replace(
        p.using_expr || ' ' || p.check_expr,
        'select\s+(auth\.(uid|jwt|role|email)|current_setting)\(', '', 'gi'
      ) ~* '(auth\.(uid|jwt|role|email)|current_setting)\('
    order by p.offender
  ),
  '{}'::text[],
  'auth_rls_initplan (WARN): policies call auth.*() and current_setting() as (select ...), once per query'
);

-- 0004, INFO. Partitioned tables too.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind in ('r', 'p')
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and not exists (
        select from pg_catalog.pg_constraint as con
        where con.conrelid = c.oid and con.contype = 'p'
      )
    order by offender
  ),
  '{}'::text[],
  'no_primary_key (INFO): every table has a primary key'
);

-- 0006, WARN. A policy for PUBLIC applies to every role that RLS binds.
-- (The derived tables around GROUP BY here and below only spare sqlfluff's parser.)
select is(
  array(
    select g.offender
    from (
      select
        pg_catalog.format(
          '%s: %s for %s %s',
          p.polrelid::regclass,
          pg_catalog.string_agg(p.polname::text, ', ' order by p.polname),
          r.rolname,
          act.command
        ) as offender
      from owned_policies as p
      inner join pg_catalog.pg_roles as r
        on r.oid = any(p.polroles) or p.polroles = '{0}'::oid[]
      cross join
        lateral pg_catalog.unnest(
          case p.polcmd
            when 'r' then array['select']
            when 'a' then array['insert']
            when 'w' then array['update']
            when 'd' then array['delete']
            else array['select', 'insert', 'update', 'delete']
          end
        ) as act (command)
      where
        p.polpermissive
        and not r.rolbypassrls
        and r.rolname !~ '^pg_'
      group by p.polrelid, r.rolname, act.command
      having pg_catalog.count(*) > 1
    ) as g
    order by g.offender
  ),
  '{}'::text[],
  'multiple_permissive_policies (WARN): at most one permissive policy per table, role and action'
);

-- 0007, INFO.
select is(
  array(
    select distinct p.polrelid::regclass::text as offender
    from owned_policies as p
    where not p.relrowsecurity
    order by offender
  ),
  '{}'::text[],
  'policy_exists_rls_disabled (INFO): no table has policies while its row level security is off'
);

-- 0008, INFO. A table only the service touches says so with a restrictive policy that denies
-- the API roles, e.g. `as restrictive for all to anon, authenticated using (false)`.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind in ('r', 'p')
      and c.relrowsecurity
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and not exists (select from pg_catalog.pg_policy as pol where pol.polrelid = c.oid)
    order by offender
  ),
  '{}'::text[],
  'rls_enabled_no_policy (INFO): every table with row level security has a policy'
);

-- 0009, WARN. Same table, access method, uniqueness, keys, opclasses, collations, orderings,
-- expressions and predicate: one of them is dead weight on every write.
select is(
  array(
    select g.offender
    from (
      select
        pg_catalog.format(
          '%s: %s',
          i.indrelid::regclass,
          pg_catalog.string_agg(i.indexrelid::regclass::text, ', ' order by i.indexrelid::regclass::text)
        ) as offender
      from pg_catalog.pg_index as i
      inner join pg_catalog.pg_class as ic on i.indexrelid = ic.oid
      where ic.relnamespace in (select o.nsp from owned_schemas as o)
      group by
        i.indrelid, ic.relam, i.indisunique, i.indnkeyatts,
        i.indkey::text, i.indclass::text, i.indcollation::text, i.indoption::text,
        coalesce(pg_catalog.pg_get_expr(i.indexprs, i.indrelid), ''),
        coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')
      having pg_catalog.count(*) > 1
    ) as g
    order by g.offender
  ),
  '{}'::text[],
  'duplicate_index (WARN): no table has two identical indexes'
);

-- 0010, ERROR.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind = 'v'
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and c.oid in (select a.relid from api_readable as a)
      and not exists (
        select from pg_catalog.pg_options_to_table(c.reloptions) as opt
        where
          opt.option_name = 'security_invoker'
          and pg_catalog.lower(opt.option_value) in ('true', 'on', 'yes', '1')
      )
    order by offender
  ),
  '{}'::text[],
  'security_definer_view (ERROR): every view anon or authenticated can read is security_invoker'
);

-- 0011, WARN. sql_tests/05_schema_guards.sql also requires SECURITY DEFINER to pin it to ''.
select is(
  array(
    select p.oid::regprocedure::text as offender
    from pg_catalog.pg_proc as p
    where
      p.pronamespace in (select o.nsp from owned_schemas as o)
      -- An extension's functions are the extension's business, as splinter treats them.
      and not exists (
        select from pg_catalog.pg_depend as d
        where
          d.classid = 'pg_catalog.pg_proc'::regclass
          and d.objid = p.oid
          and d.deptype = 'e'
      )
      and not exists (
        select from pg_catalog.unnest(p.proconfig) as setting
        where setting ~ '^search_path='
      )
    order by offender
  ),
  '{}'::text[],
  'function_search_path_mutable (WARN): every function sets its own search_path'
);

-- 0013, ERROR. Partitioned tables too.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind in ('r', 'p')
      and not c.relrowsecurity
      and c.relnamespace in (select s.nsp from api_schemas as s)
    order by offender
  ),
  '{}'::text[],
  'rls_disabled_in_public (ERROR): every table in an API schema has row level security enabled'
);

-- 0014, WARN.
select is(
  array(
    select e.extname::text as offender
    from pg_catalog.pg_extension as e
    where e.extnamespace = 'public'::regnamespace and e.extname <> 'plpgsql'
    order by offender
  ),
  '{}'::text[],
  'extension_in_public (WARN): no extension is installed in public'
);

-- 0015, ERROR. Stricter: any mention of user metadata, however it is reached.
select is(
  array(
    select p.offender
    from owned_policies as p
    where p.using_expr || ' ' || p.check_expr ~* '(user_metadata|raw_user_meta_data)'
    order by p.offender
  ),
  '{}'::text[],
  'rls_references_user_metadata (ERROR): no policy trusts user_metadata, which users write themselves'
);

-- 0016, WARN.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind = 'm'
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and c.oid in (select a.relid from api_readable as a)
    order by offender
  ),
  '{}'::text[],
  'materialized_view_in_api (WARN): no materialized view is readable by anon or authenticated'
);

-- 0017, WARN. Stricter: owned schemas, not only the exposed ones.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind = 'f'
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and c.oid in (select a.relid from api_readable as a)
    order by offender
  ),
  '{}'::text[],
  'foreign_table_in_api (WARN): no foreign table is readable by anon or authenticated'
);

-- 0018, WARN. Every user relation, as pg_upgrade checks them; arrays and domains too.
select is(
  array(
    select pg_catalog.format('%s.%I %s', c.oid::regclass, a.attname, a.atttypid::regtype) as offender
    from pg_catalog.pg_attribute as a
    inner join pg_catalog.pg_class as c on a.attrelid = c.oid
    inner join pg_catalog.pg_type as t on a.atttypid = t.oid
    where
      a.attnum > 0
      and not a.attisdropped
      and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      and array[t.oid, t.typelem, t.typbasetype] && array[
        'pg_catalog.regcollation'::regtype, 'pg_catalog.regconfig'::regtype,
        'pg_catalog.regdictionary'::regtype, 'pg_catalog.regnamespace'::regtype,
        'pg_catalog.regoper'::regtype, 'pg_catalog.regoperator'::regtype,
        'pg_catalog.regproc'::regtype, 'pg_catalog.regprocedure'::regtype
      ]::oid[]
    order by offender
  ),
  '{}'::text[],
  'unsupported_reg_types (WARN): no column stores a reg* type that pg_upgrade refuses'
);

-- 0019, ERROR. Stricter: whether or not pgmq_public is exposed today.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind in ('r', 'p')
      and c.relnamespace = pg_catalog.to_regnamespace('pgmq')
      and c.relname ~ '^q_'
      and not c.relrowsecurity
      and c.oid in (select a.relid from api_readable as a)
    order by offender
  ),
  '{}'::text[],
  'insecure_queue_exposed_in_api (ERROR): no pgmq queue table without RLS is readable by anon or authenticated'
);

-- 0021, ERROR. Auth may replace a unique constraint at any upgrade; only the primary key is safe.
select is(
  array(
    select pg_catalog.format('%s.%I', con.conrelid::regclass, con.conname) as offender
    from pg_catalog.pg_constraint as con
    inner join pg_catalog.pg_class as referenced on con.confrelid = referenced.oid
    inner join pg_catalog.pg_index as i on con.conindid = i.indexrelid
    where
      con.contype = 'f'
      and referenced.relnamespace = 'auth'::regnamespace
      and con.connamespace <> 'auth'::regnamespace
      and not i.indisprimary
    order by offender
  ),
  '{}'::text[],
  'fkey_to_auth_unique (ERROR): foreign keys into auth reference primary keys only'
);

-- 0023, ERROR. Stricter: also names that end in _password, _secret, _token, _api_key...
select is(
  array(
    select pg_catalog.format('%s.%I', c.oid::regclass, a.attname) as offender
    from pg_catalog.pg_class as c
    inner join pg_catalog.pg_attribute as a on c.oid = a.attrelid
    where
      c.relkind in ('r', 'p')
      and not c.relrowsecurity
      and c.relnamespace in (select s.nsp from api_schemas as s)
      and c.oid in (select r.relid from api_readable as r)
      and a.attnum > 0
      and not a.attisdropped
      and (
        pg_catalog.replace(pg_catalog.lower(a.attname), '-', '_') = any(array[
          'password', 'passwd', 'pwd', 'passphrase', 'secret', 'secret_key', 'private_key',
          'api_key', 'apikey', 'auth_key', 'token', 'jwt', 'access_token', 'refresh_token',
          'oauth_token', 'session_token', 'bearer_token', 'auth_code', 'session_id', 'session_key',
          'session_secret', 'recovery_code', 'backup_code', 'verification_code', 'otp',
          'two_factor', '2fa_secret', '2fa_code', 'ssn', 'social_security',
          'social_security_number', 'driver_license', 'drivers_license', 'license_number',
          'passport_number', 'passport_id', 'national_id', 'tax_id', 'credit_card', 'card_number',
          'cvv', 'cvc', 'cvn', 'bank_account', 'account_number', 'routing_number', 'iban',
          'swift_code', 'bic', 'health_record', 'medical_record', 'patient_id', 'insurance_number',
          'health_insurance', 'medical_insurance', 'treatment', 'mac_address', 'macaddr', 'imei',
          'device_uuid', 'pgp_key', 'gpg_key', 'ssh_key', 'certificate', 'license_key',
          'activation_key', 'facial_recognition'
        ])
        or pg_catalog.lower(a.attname) ~ '_(password|passwd|secret|token|api_?key|private_key)$'
      )
    order by offender
  ),
  '{}'::text[],
  'sensitive_columns_exposed (ERROR): no table anon or authenticated can read without RLS has a secret-looking column'
);

-- 0024, WARN.
select is(
  array(
    select p.offender
    from owned_policies as p
    cross join
      lateral (
        select
          pg_catalog.regexp_replace(pg_catalog.lower(p.using_expr), '\s', '', 'g')
          in ('true', '(true)', '1=1', '(1=1)') as using_true,
          pg_catalog.regexp_replace(pg_catalog.lower(p.check_expr), '\s', '', 'g')
          in ('true', '(true)', '1=1', '(1=1)') as check_true
      ) as x
    where
      p.relrowsecurity
      and p.polpermissive
      and (
        p.polroles = '{0}'::oid[]
        or p.polroles && array['anon'::regrole, 'authenticated'::regrole]::oid[]
      )
      and (
        (p.polcmd in ('w', 'd', '*') and (x.using_true or p.using_expr = ''))
        or x.check_true
        or (p.polcmd = 'a' and p.check_expr = '')
        or (p.polcmd in ('w', '*') and p.check_expr = '' and x.using_true)
      )
    order by p.offender
  ),
  '{}'::text[],
  'rls_policy_always_true (WARN): no write policy for anon or authenticated lets every row through'
);

-- 0025, WARN.
select is(
  array(
    select e.extname::text as offender
    from pg_catalog.pg_extension as e
    where e.extname in ('plv8', 'timescaledb', 'adminpack')
    order by offender
  ),
  '{}'::text[],
  'pg17_deprecated_extensions (WARN): no extension that Supabase''s Postgres 17 images dropped'
);

-- 0026, WARN. Whether or not pg_graphql is installed: Supabase installs it by default.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    where
      c.relkind in ('r', 'p', 'v', 'm', 'f')
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and pg_catalog.has_any_column_privilege('anon', c.oid, 'select')
    order by offender
  ),
  '{}'::text[],
  'pg_graphql_anon_table_exposed (WARN): anon can read no table or view'
);

-- 0028, WARN. No exception: the anon key is public.
select is(
  array(
    select p.oid::regprocedure::text as offender
    from pg_catalog.pg_proc as p
    where
      p.prosecdef
      and p.pronamespace in (select o.nsp from owned_schemas as o)
      and pg_catalog.has_function_privilege('anon', p.oid, 'execute')
    order by offender
  ),
  '{}'::text[],
  'anon_security_definer_function_executable (WARN): anon can execute no SECURITY DEFINER function'
);

-- 0029, WARN. As splinter checks it today: in every schema, not only the exposed ones, and with
-- no exception (retry_now and set_setup_step are SECURITY INVOKER, bounded by RLS and triggers).
select is(
  array(
    select p.oid::regprocedure::text as offender
    from pg_catalog.pg_proc as p
    where
      p.prosecdef
      and p.pronamespace in (select o.nsp from owned_schemas as o)
      and pg_catalog.has_function_privilege('authenticated', p.oid, 'execute')
    order by offender
  ),
  '{}'::text[],
  'authenticated_security_definer_function_executable (WARN): authenticated can execute no SECURITY DEFINER function'
);

-- 0030, WARN. Stricter: an auth value tested for null anywhere in a read policy, not only as a
-- top-level OR, since for a signed-out caller it is true.
select is(
  array(
    select p.offender
    from owned_policies as p
    where
      p.polpermissive
      and p.polcmd in ('r', '*')
      and p.using_expr ~* (
        '(auth\.(uid|jwt|role|email)\(\)|current_setting\([^)]*,\s*true\))'
        || '(\s+as\s+\w+)?\)*\s+is\s+null'
      )
    order by p.offender
  ),
  '{}'::text[],
  'rls_policy_null_auth_disjunct (WARN): no read policy is true when the caller has no auth.uid()'
);

-- 0030, WARN.
select is(
  array(
    select i.indexrelid::regclass::text as offender
    from pg_catalog.pg_index as i
    inner join pg_catalog.pg_class as ic on i.indexrelid = ic.oid
    where
      not i.indisvalid
      and ic.relnamespace in (select o.nsp from owned_schemas as o)
    order by offender
  ),
  '{}'::text[],
  'invalid_index (WARN): no index is left invalid'
);

-- 0030, INFO.
select is(
  array(
    select c.oid::regclass::text as offender
    from pg_catalog.pg_class as c
    cross join lateral pg_catalog.pg_options_to_table(c.reloptions) as opt
    where
      c.relkind in ('r', 'm')
      and c.relnamespace in (select o.nsp from owned_schemas as o)
      and opt.option_name = 'autovacuum_enabled'
      and pg_catalog.lower(opt.option_value) in ('false', 'off', 'no', '0')
    order by offender
  ),
  '{}'::text[],
  'autovacuum_disabled (INFO): no table turns autovacuum off'
);

select * from finish();
rollback;
