"""`haven export`: an operator writes one user's export to a file, as that user."""
from __future__ import annotations

import csv
import io

import psycopg
from click.testing import CliRunner

from service.cli import main

from .support.exports import add_orders


def run(args: list[str], database_url: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, args, env={"DATABASE_URL": database_url}, catch_exceptions=False)


def test_export_writes_the_users_rows_and_records_history(database_url, make_user, tmp_path):
    alice, bob = make_user(), make_user()
    add_orders(database_url, alice.id, 3)
    add_orders(database_url, bob.id, 5)
    out = tmp_path / "orders.csv"
    result = run(["export", "--type", "orders", "--format", "csv", "--out", str(out), "--email", alice.email,
                  "--fields", "shopify_order_id,total"], database_url)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows == [["Shopify Order ID", "Total"], ["3", "3.00"], ["2", "2.00"], ["1", "1.00"]]
    assert not (tmp_path / "orders.csv.partial").exists()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select user_id::text, status, record_count from public.export_history").fetchall() == [
            (alice.id, "completed", 3)]


def test_export_by_user_id_as_json(database_url, user, tmp_path):
    add_orders(database_url, user.id, 2)
    out = tmp_path / "o.json"
    result = run(["export", "--type", "orders", "--format", "json", "--out", str(out), "--user-id", user.id,
                  "--fields", "shopify_order_id"], database_url)
    assert result.exit_code == 0, result.output
    assert out.read_text() == '[\n{"shopify_order_id":"2"},\n{"shopify_order_id":"1"}\n]\n'


def test_export_refuses_bad_input_without_writing(database_url, user, tmp_path):
    out = tmp_path / "x.csv"
    for args, needle in (
        (["--type", "orders", "--email", user.email, "--fields", "nope"], "unknown field"),
        (["--type", "orders", "--email", "nobody@example.test"], "no such user"),
        (["--type", "orders", "--user-id", "not-a-uuid"], "not a user id"),
        (["--type", "orders"], "exactly one of --email or --user-id"),
    ):
        result = CliRunner().invoke(main, ["export", "--out", str(out), *args], env={"DATABASE_URL": database_url})
        assert result.exit_code != 0 and needle in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_cannot_be_written_is_one_line_and_records_nothing(database_url, user, tmp_path):
    add_orders(database_url, user.id, 2)
    result = run(["export", "--type", "orders", "--out", str(tmp_path / "missing-dir" / "x.csv"),
                  "--user-id", user.id], database_url)
    assert result.exit_code == 1 and result.output.strip() == f"Error: no such directory: {tmp_path / 'missing-dir'}"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.export_history").fetchone()[0] == 0
