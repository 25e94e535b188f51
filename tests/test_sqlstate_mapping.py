"""Database errors raised on purpose become HTTP answers in one place; anything else is a 500."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from service.errors import SQLSTATES, from_database, retryable, sqlstate_of


def raised_by(database_url: str, statement: str) -> psycopg.Error:
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(statement)
    return caught.value


CASES = [
    ("do $$ begin raise exception 'bad value' using errcode = '22023'; end $$", "22023", 400, "invalid_parameter"),
    ("select 'not-a-uuid'::uuid", "22P02", 400, "invalid_parameter"),
    # Text Postgres cannot hold: a NUL in JSON (jsonb refuses \u0000) and bytes that are not UTF-8.
    (r"""select '"a\u0000b"'::jsonb""", "22P05", 400, "invalid_parameter"),
    (r"select convert_from('\xff'::bytea, 'UTF8')", "22021", 400, "invalid_parameter"),
    ("select 9223372036854775808::bigint", "22003", 400, "invalid_parameter"),
    ("select 'yesterday-ish'::timestamptz", "22007", 400, "invalid_parameter"),
    ("select '2026-13-45'::date", "22008", 400, "invalid_parameter"),
    ("select '0001-01-01T00:00:00-23:59'::timestamptz", "22009", 400, "invalid_parameter"),
    ("insert into public.periodic_jobs (name) values (' ')", "23514", 400, "constraint_violated"),
    ("do $$ begin raise exception 'no such thing' using errcode = 'P0002'; end $$", "P0002", 404, "not_found"),
    ("do $$ begin raise exception 'not now' using errcode = '55000'; end $$", "55000", 409, "conflict"),
    ("insert into public.periodic_jobs (name) values ('a'), ('a')", "23505", 409, "conflict"),
    (f"insert into public.user_settings (user_id) values ('{uuid.uuid4()}')", "23503", 409, "conflict"),
    ("set role authenticated; select * from public.periodic_jobs", "42501", 403, "forbidden"),
    ("do $$ begin raise exception 'a cap' using errcode = 'PT409'; end $$", "PT409", 409, "limit_reached"),
]


@pytest.mark.parametrize(("statement", "sqlstate", "status", "code"), CASES)
def test_sqlstates_raised_on_purpose_map_to_http(database_url, statement, sqlstate, status, code):  # type: ignore[no-untyped-def]
    error = raised_by(database_url, statement)
    assert error.sqlstate == sqlstate
    mapped = from_database(error)
    assert mapped is not None and (mapped.status, mapped.code) == (status, code)


def test_a_real_fault_is_not_mapped(database_url):  # type: ignore[no-untyped-def]
    assert from_database(raised_by(database_url, "select 1 / 0")) is None


def test_every_declared_sqlstate_is_raised_above() -> None:
    raised = {sqlstate for _, sqlstate, _, _ in CASES}
    assert raised == set(SQLSTATES)


def test_the_worker_reads_the_same_table(database_url):  # type: ignore[no-untyped-def]
    # Input that cannot be stored fails a queue item for good; a conflict may clear; a fault is retried.
    assert not retryable(raised_by(database_url, "select 'not-a-uuid'::uuid"))
    assert retryable(raised_by(database_url, "insert into public.periodic_jobs (name) values ('a'), ('a')"))
    fault = raised_by(database_url, "select 1 / 0")
    assert sqlstate_of(fault) is None and retryable(fault)


def test_a_value_psycopg_refuses_to_send_is_bad_input(database_url):  # type: ignore[no-untyped-def]
    # A NUL character: psycopg raises before anything reaches the server, so there is no SQLSTATE.
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.DataError) as caught:
        conn.execute("select %s::text", ["a\x00b"])
    assert caught.value.sqlstate is None
    assert sqlstate_of(caught.value) is not None and sqlstate_of(caught.value).bad_input
    assert not retryable(caught.value)
    mapped = from_database(caught.value)
    assert mapped is not None and mapped.status == 400
