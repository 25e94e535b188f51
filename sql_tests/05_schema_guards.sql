-- Catalogue-wide: tests no single file of supabase/schemas/, so it takes a prefix no schema file
-- uses (00-09 and 90-99 are kept for such files; NN_<concern>.sql tests schemas/NN_<concern>.sql).
--
-- Rules for every object of schema public. They read the catalogue, not a list of known objects,
-- so they hold every schema file and every migration to come to the same rules. An object that
-- must break a rule is added to the exception list of that test, on purpose and in review.
begin;
select plan(8);

select is_empty(
  $$
    select c.oid::regclass
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p')
      and not c.relrowsecurity
  $$,
  'every table in public has row level security enabled'
);

select is_empty(
  $$
    select e.extname
    from pg_catalog.pg_extension as e
    where e.extnamespace = 'public'::regnamespace
  $$,
  'no extension is installed in public'
);

select is_empty(
  $$
    select p.oid::regprocedure, p.proconfig
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and not coalesce(p.proconfig @> array['search_path=""'], false)
  $$,
  'every SECURITY DEFINER function in public pins search_path to an empty string'
);

-- No exceptions: what users may change is bounded by RLS, column grants, CHECKs and triggers,
-- never by a function running with its owner's rights.
select is_empty(
  $$
    select p.oid::regprocedure, r.rolname
    from pg_catalog.pg_proc as p
    cross join pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and pg_catalog.has_function_privilege(r.rolname, p.oid, 'execute')
  $$,
  'no SECURITY DEFINER function in public is executable by anon or authenticated'
);

-- Every caller of the API is signed in (the service verifies the JWT), so anon needs nothing in
-- public; Supabase's default grants give it everything until a migration revokes it.
select is_empty(
  $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and pg_catalog.has_table_privilege(
        'anon', c.oid, 'select, insert, update, delete, truncate, references, trigger'
      )
    union all
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      -- CASE: the planner may test privileges before relkind, and only sequences have these.
      and case
        when c.relkind = 'S' then pg_catalog.has_sequence_privilege('anon', c.oid, 'usage, select, update')
        else false
      end
    union all
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and pg_catalog.has_function_privilege('anon', p.oid, 'execute')
  $$,
  'anon holds no privilege on any table, sequence or function in public'
);

select is_empty(
  $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p', 'v', 'm')
      and pg_catalog.obj_description(c.oid, 'pg_class') is null
    union all
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and pg_catalog.obj_description(p.oid, 'pg_proc') is null
      and not exists (
        select from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
      )
  $$,
  'every table, view and function in public has a COMMENT'
);

select is_empty(
  $$
    select con.conrelid::regclass, con.conname
    from pg_catalog.pg_constraint as con
    where con.contype = 'f'
      and con.connamespace = 'public'::regnamespace
      and not exists (
        select from pg_catalog.pg_index as i
        where i.indrelid = con.conrelid
          and (i.indkey::int2[])[0:pg_catalog.cardinality(con.conkey) - 1] = con.conkey
      )
  $$,
  'every foreign key in public is served by an index that leads with its columns'
);

select is_empty(
  $$
    select c.oid::regclass
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind = 'v'
      and not coalesce(c.reloptions @> array['security_invoker=true'], false)
  $$,
  'every view in public is security_invoker, so RLS applies to whoever reads it'
);

select * from finish();
rollback;
