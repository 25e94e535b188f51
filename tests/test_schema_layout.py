"""One place per thing: the layout rules of supabase/schemas/ and sql_tests/.

- A schema file is `NN_<concern>.sql`; no two share a number, and none uses 00-09 or 90-99, which
  belong to the catalogue-wide pgTAP files.
- Each table, view and function of schema public is created in exactly one schema file, in its
  final form: no `create or replace`, no `drop`, no columns or constraints added after the fact.
- `sql_tests/NN_<concern>.sql` tests `supabase/schemas/NN_<concern>.sql`; the catalogue-wide files
  take 00-09 or 90-99; no two test files share a number.
"""
from __future__ import annotations

import re
from collections import defaultdict

import psycopg

from service.config import PROJECT_ROOT
from service.migrate import schema_files, split_statements

SQL_TESTS_DIR = PROJECT_ROOT / "sql_tests"
NUMBERED = re.compile(r"(?P<number>\d{2})_(?P<concern>[a-z0-9_]+)\.sql")
CATALOGUE_WIDE = {f"{n:02d}" for n in [*range(0, 10), *range(90, 100)]}
CREATED = re.compile(
    r"^create\s+(?:or\s+replace\s+)?(?P<kind>table|view|function)\s+public\.(?P<name>\w+)", re.I)
NOT_A_FINAL_FORM = re.compile(
    r"^(create\s+or\s+replace\b|drop\b|alter\s+table\b.*\badd\s+(column|constraint)\b)", re.I | re.S)


def numbered(paths) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    by_number: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        match = NUMBERED.fullmatch(path.name)
        assert match, f"{path.name}: expected NN_<concern>.sql"
        by_number[match["number"]].append(path.name)
    return by_number


def created_in_schema_files() -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> the schema files that create it."""
    where: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in schema_files():
        for statement in split_statements(path.read_text(encoding="utf-8")):
            if match := CREATED.match(statement):
                where[(match["kind"].lower(), match["name"])].add(path.name)
    return where


def test_schema_files_have_one_number_each_outside_the_catalogue_wide_ranges():
    by_number = numbered(schema_files())
    assert by_number, "no schema files"
    assert {n: names for n, names in by_number.items() if len(names) > 1} == {}
    assert sorted(set(by_number) & CATALOGUE_WIDE) == []


def test_schema_files_state_each_object_in_its_final_form():
    offending = [
        f"{path.name}: {statement.splitlines()[0]}"
        for path in schema_files()
        for statement in split_statements(path.read_text(encoding="utf-8"))
        if NOT_A_FINAL_FORM.match(statement)
    ]
    assert offending == []


def test_every_table_view_and_function_of_public_is_created_in_exactly_one_schema_file(template_url):
    where = created_in_schema_files()
    assert {key: files for key, files in where.items() if len(files) > 1} == {}
    with psycopg.connect(template_url) as conn:
        in_catalogue = {
            (kind, name) for kind, name in conn.execute("""
                select case c.relkind when 'v' then 'view' else 'table' end, c.relname
                from pg_catalog.pg_class as c
                where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v')
                union
                select 'function', p.proname
                from pg_catalog.pg_proc as p
                where p.pronamespace = 'public'::regnamespace
                  and not exists (select from pg_catalog.pg_depend as d
                                  where d.objid = p.oid and d.deptype = 'e')
            """)
        }
    assert sorted(in_catalogue - set(where)) == [], "objects no schema file creates"
    assert sorted(set(where) - in_catalogue) == [], "schema files create objects the migrations do not"


def test_each_pgtap_file_tests_the_schema_file_of_its_number_or_is_catalogue_wide():
    schemas = {path.name for path in schema_files()}
    schema_numbers = numbered(schema_files())
    tests = numbered(sorted(SQL_TESTS_DIR.glob("*.sql")))
    assert {n: names for n, names in tests.items() if len(names) > 1} == {}
    for number, (name,) in tests.items():
        if number in CATALOGUE_WIDE:
            assert number not in schema_numbers, name
            assert "Catalogue-wide" in (SQL_TESTS_DIR / name).read_text(encoding="utf-8"), name
        else:
            assert name in schemas, f"sql_tests/{name} has no supabase/schemas/{name} to test"
            first_line = (SQL_TESTS_DIR / name).read_text(encoding="utf-8").splitlines()[0]
            assert first_line == f"-- Tests supabase/schemas/{name}.", name
