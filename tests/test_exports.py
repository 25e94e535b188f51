"""GET /api/export and /api/export/configs: round trips for every type and format, CSV quoting and
formula neutralisation, JSON escaping, date bounds, limits, every 400, isolation, history."""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from service.app import create_app
from service.exports.catalog import EXPORT_CONFIGS, ExportField

from .support.exports import export_history

# Text that breaks naive CSV/JSON writers or runs as a spreadsheet formula.
TRICKY = [
    "plain", "comma, inside", 'quote "inside"', "new\nline", "crlf\r\nline", "unicode ✓ café 🎨",
    "back\\slash \\n not a newline", "ctrl \x01\x1f\x7f", "=SUM(A1:A9)", "+1 555", "-2 off", "@handle",
    "\tTabbed", "\rcarriage", "", "'already quoted",
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def seed_everything(database_url: str, user_id: str, *, at: datetime) -> None:
    """One row per tricky string in every export type, `at` minus i hours, as the service would."""
    with psycopg.connect(database_url) as conn:
        for i, text in enumerate(TRICKY):
            when = at - timedelta(hours=i)
            value = text or None if i % 5 == 4 else text  # some NULLs among the strings
            conn.execute(
                "insert into public.leads (user_id, email, segment, source, quiz_completed, converted,"
                " utm_campaign, created_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [user_id, f"l{i}@x.test", value, text, i % 2 == 0, i % 3 == 0, value, when])
            customer = conn.execute(
                "insert into public.customers (user_id, shopify_customer_id, email, segment, order_count,"
                " total_spent, first_order_at, last_order_at, journey_stage, created_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [user_id, f"sc-{i}", f"c{i}@x.test", value, i, Decimal(i) - Decimal("7.25"), when, when, text,
                 when]).fetchone()[0]
            if i % 2:
                conn.execute(
                    "insert into public.customer_loyalty (user_id, customer_id, tier, lifetime_points_earned)"
                    " values (%s, %s, %s, %s)", [user_id, customer, text or "silver", i * 10])
            conn.execute(
                "insert into public.customer_orders (user_id, customer_id, shopify_order_id, customer_email,"
                " total, subtotal, discount_total, item_count, status, attribution_channel, coupon_code,"
                " created_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [user_id, customer, f"so-{i}", value, Decimal("-12.5") + i, Decimal("99999999.99"),
                 Decimal("-0.01") * i, i, text or "paid", value, text, when])
            board = conn.execute(
                "insert into public.pinterest_boards (user_id, pinterest_board_id, name) values (%s, %s, %s)"
                " returning id", [user_id, f"b{i}", text]).fetchone()[0]
            pin = conn.execute(
                "insert into public.pins (user_id, board_id, pinterest_pin_id, title, status, link,"
                " published_at, created_at) values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [user_id, board if i % 3 else None, f"p{i}" if i % 2 else None, value, text or "draft",
                 value, when, when]).fetchone()[0]
            if i % 2:
                conn.execute(
                    "insert into public.pin_analytics (user_id, pin_id, metric_date, impressions, saves,"
                    " clicks, engagement_rate) values (%s, %s, %s, %s, %s, %s, %s)",
                    [user_id, pin, when.date(), i * 1000, i, i * 2, Decimal("0.123456")])
            quote = conn.execute(
                "insert into public.quotes (user_id, text, attribution, collection, mood, status, created_at)"
                " values (%s, %s, %s, %s, %s, %s, %s) returning id",
                [user_id, text or "blank", value, value, value, "draft", when]).fetchone()[0]
            for fmt in ("8x10", "A4")[: i % 3]:
                conn.execute(
                    "insert into public.assets (user_id, quote_id, format, status, quality_score, url, created_at)"
                    " values (%s, %s, %s, %s, %s, %s, %s)",
                    [user_id, quote, fmt, text or "ready", Decimal("0.875"), value, when])
            product = conn.execute(
                "insert into public.shopify_products (user_id, shopify_product_id, title, handle, status, vendor,"
                " product_type, tags, created_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [user_id, f"sp-{i}", text, value, "active", value, text, [text, "x"] if i % 2 else [], when]
            ).fetchone()[0]
            for v in range(i % 3):
                conn.execute(
                    "insert into public.shopify_product_variants (user_id, product_id, shopify_variant_id, title,"
                    " price, inventory_quantity) values (%s, %s, %s, %s, %s, %s)",
                    [user_id, product, f"sv-{i}-{v}", text, Decimal("19.99") + v, v - 1])
            if i % 4 == 0:
                conn.execute("insert into public.shopify_collections (user_id, shopify_collection_id, title)"
                             " values (%s, %s, %s)", [user_id, f"scol-{i}", text])
                conn.execute("insert into public.shopify_collection_products (user_id, shopify_collection_id,"
                             " shopify_product_id) values (%s, %s, %s)", [user_id, f"scol-{i}", f"sp-{i}"])
            conn.execute(
                "insert into public.daily_metrics (user_id, date, revenue, orders, new_customers, new_leads,"
                " quiz_completions, pin_impressions, pin_clicks) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                # The orders above were rolled up into some of these days already: tricky figures win.
                " on conflict (user_id, date) do update set revenue = excluded.revenue, orders = excluded.orders,"
                " new_customers = excluded.new_customers, new_leads = excluded.new_leads,"
                " quiz_completions = excluded.quiz_completions, pin_impressions = excluded.pin_impressions,"
                " pin_clicks = excluded.pin_clicks",
                [user_id, at.date() - timedelta(days=i), Decimal("-40.10") + i, i, i, i, i, 10 ** 10 + i, i])


def view_rows(database_url: str, user_id: str, type_: str, keys: list[str]) -> list[dict[str, Any]]:
    config = EXPORT_CONFIGS[type_]
    order = "export_date desc, id desc" if config.has_id else "export_date desc"
    columns = ", ".join(f'"{k}"' for k in keys)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(f"select {columns} from public.{config.view} where user_id = %s order by {order}",
                            [user_id]).fetchall()


def from_csv(field: ExportField, cell: str) -> Any:
    if cell == "":
        return None
    if field.kind == "number":
        return Decimal(cell)
    if field.kind == "boolean":
        return {"true": True, "false": False}[cell]
    if field.kind == "timestamp":
        return datetime.fromisoformat(cell)
    if field.kind == "date":
        return date.fromisoformat(cell)
    if field.kind == "uuid":
        return uuid.UUID(cell)
    return cell


def from_json(field: ExportField, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "timestamp":
        return datetime.fromisoformat(value)
    if field.kind == "date":
        return date.fromisoformat(value)
    if field.kind == "uuid":
        return uuid.UUID(value)
    if field.kind == "number":
        return Decimal(str(value))
    return value


def expected_csv(field: ExportField, value: Any) -> Any:
    """What csv.reader gives back (it cannot tell "" from an empty cell; the byte-level test can)."""
    if value is None or (field.kind == "text" and value == ""):
        return None
    if field.kind == "text":
        return neutralised(value)
    if field.kind == "number":
        return Decimal(value)
    return value


NOW = datetime.now(timezone.utc).replace(microsecond=0)
RANGE = {"startDate": (NOW - timedelta(days=40)).date().isoformat(), "endDate": NOW.date().isoformat()}


@pytest.fixture
def seeded(database_url, user):  # type: ignore[no-untyped-def]
    seed_everything(database_url, user.id, at=NOW)
    return user


def get(client, user, **params):  # type: ignore[no-untyped-def]
    return client.get("/api/export", query_string=params, headers=user.headers, buffered=True)


@pytest.mark.parametrize("type_", list(EXPORT_CONFIGS))
def test_csv_round_trips_every_field_of_every_type(client, database_url, seeded, type_):
    config = EXPORT_CONFIGS[type_]
    keys = [f.key for f in config.fields]
    response = get(client, seeded, type=type_, format="csv", fields=",".join(keys), **RANGE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{type_}-export-{datetime.now(timezone.utc).date().isoformat()}.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert rows[0] == [f.label for f in config.fields]
    expected = view_rows(database_url, seeded.id, type_, keys)
    assert len(expected) >= 10
    assert int(response.headers["X-Record-Count"]) == len(rows) - 1 == len(expected)
    for cells, row in zip(rows[1:], expected, strict=True):
        assert [from_csv(f, c) for f, c in zip(config.fields, cells, strict=True)] == [
            expected_csv(f, row[f.key]) for f in config.fields]


@pytest.mark.parametrize("type_", list(EXPORT_CONFIGS))
def test_json_round_trips_every_field_of_every_type(client, database_url, seeded, type_):
    config = EXPORT_CONFIGS[type_]
    keys = [f.key for f in config.fields]
    response = get(client, seeded, type=type_, format="json", fields=",".join(keys), **RANGE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"].endswith('.json"')
    parsed = json.loads(response.get_data(as_text=True), parse_float=Decimal)
    expected = view_rows(database_url, seeded.id, type_, keys)
    assert int(response.headers["X-Record-Count"]) == len(parsed) == len(expected)
    for obj, row in zip(parsed, expected, strict=True):
        assert list(obj) == keys  # the requested order
        assert {f.key: from_json(f, obj[f.key]) for f in config.fields} == {
            f.key: (Decimal(row[f.key]) if f.kind == "number" and row[f.key] is not None else row[f.key])
            for f in config.fields}


def test_json_keeps_text_exactly_as_stored(client, seeded):
    """Backslashes, quotes, control characters, unicode and formula prefixes are data in JSON."""
    response = get(client, seeded, type="orders", format="json", fields="shopify_order_id,coupon_code", **RANGE)
    by_order = {row["shopify_order_id"]: row["coupon_code"] for row in json.loads(response.get_data())}
    assert by_order == {f"so-{i}": text for i, text in enumerate(TRICKY)}


def test_csv_quoting_and_formula_neutralisation_at_the_byte_level(client, database_url, user):
    with psycopg.connect(database_url) as conn:
        for i, (email, coupon) in enumerate([("=1+1", "a,b"), (None, 'say "hi"'), ("", "-5"), ("-", "x\ny")]):
            conn.execute("insert into public.customer_orders (user_id, shopify_order_id, customer_email, total,"
                         " coupon_code, created_at) values (%s, %s, %s, %s, %s, %s)",
                         [user.id, str(i), email, Decimal("-1.5") * i, coupon, NOW - timedelta(minutes=i)])
    body = get(client, user, type="orders", fields="shopify_order_id,customer_email,total,coupon_code",
               **RANGE).get_data()
    assert body.split(b"\n", 1)[0] == b"Shopify Order ID,Customer Email,Total,Coupon Code"
    assert body.split(b"\n", 1)[1] == (
        b"0,'=1+1,0.00,\"a,b\"\n"
        b"1,,-1.50,\"say \"\"hi\"\"\"\n"  # NULL: an empty unquoted cell; negative numbers stay numbers
        b"2,\"\",-3.00,'-5\n"  # an empty string: "" (not NULL); text "-5" is neutralised
        b"3,'-,-4.50,\"x\ny\"\n"
    )


def test_booleans_are_true_false_in_csv_and_json(client, database_url, user):
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.leads (user_id, email, quiz_completed, converted) values (%s, 'a@b', true, false)",
                     [user.id])
    assert get(client, user, type="leads", fields="quiz_completed,converted").get_data() == (
        b"Quiz Completed,Converted to Customer\ntrue,false\n")
    assert json.loads(get(client, user, type="leads", format="json", fields="quiz_completed,converted").get_data()) == [
        {"quiz_completed": True, "converted": False}]


def test_no_fields_means_the_type_defaults(client, seeded):
    header = get(client, seeded, type="customers", **RANGE).get_data(as_text=True).split("\n", 1)[0]
    assert header == ",".join(f.label for f in EXPORT_CONFIGS["customers"].default_fields)
    assert "Loyalty Tier" not in header


def test_empty_exports_are_a_header_or_an_empty_array(client, user):
    assert get(client, user, type="pins").get_data() == (
        ",".join(f.label for f in EXPORT_CONFIGS["pins"].default_fields) + "\n").encode()
    response = get(client, user, type="pins", format="json")
    assert json.loads(response.get_data()) == []
    assert response.headers["X-Record-Count"] == "0"


def ids_between(client, user, **params):  # type: ignore[no-untyped-def]
    response = get(client, user, type="orders", format="json", fields="shopify_order_id", **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [row["shopify_order_id"] for row in json.loads(response.get_data())]


def test_date_only_end_includes_that_whole_day_and_start_is_inclusive(client, database_url, user):
    moments = {"before": "2026-03-09T23:59:59.999999Z", "start": "2026-03-10T00:00:00Z",
               "late": "2026-03-12T23:59:59.999999Z", "after": "2026-03-13T00:00:00Z"}
    with psycopg.connect(database_url) as conn:
        for name, at in moments.items():
            conn.execute("insert into public.customer_orders (user_id, shopify_order_id, created_at)"
                         " values (%s, %s, %s)", [user.id, name, at])
    assert ids_between(client, user, startDate="2026-03-10", endDate="2026-03-12") == ["late", "start"]
    assert ids_between(client, user, startDate="2026-03-10", endDate="2026-03-12T23:59:59.999999Z") == [
        "late", "start"]
    assert ids_between(client, user, startDate="2026-03-10", endDate="2026-03-12T12:00:00") == ["start"]
    # An offset moves the instant: 2026-03-13T01:00+02:00 is 23:00 UTC on the 12th.
    assert ids_between(client, user, startDate="2026-03-13T01:00:00+02:00", endDate="2026-03-13") == [
        "after", "late"]
    assert ids_between(client, user, startDate="2026-03-12", endDate="2026-03-12") == ["late"]


def test_without_start_date_the_default_range_applies(client, database_url, user):
    with psycopg.connect(database_url) as conn:
        for name, days in (("recent", 89), ("old", 91)):
            conn.execute("insert into public.customer_orders (user_id, shopify_order_id, created_at)"
                         " values (%s, %s, now() - make_interval(days => %s))", [user.id, name, days])
    assert ids_between(client, user) == ["recent"]  # orders: defaultDateRange 90 days
    # ... counted back from endDate when one is given.
    end = (NOW - timedelta(days=90)).date().isoformat()
    assert ids_between(client, user, endDate=end) == ["old"]


def test_analytics_filters_on_days(client, database_url, user):
    with psycopg.connect(database_url) as conn:
        for day in ("2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12"):
            conn.execute("insert into public.daily_metrics (user_id, date) values (%s, %s)", [user.id, day])
    response = get(client, user, type="analytics", format="json", fields="date",
                   startDate="2026-03-10T18:00:00Z", endDate="2026-03-11T01:00:00Z")
    assert [r["date"] for r in json.loads(response.get_data())] == ["2026-03-11", "2026-03-10"]


def test_limit_takes_the_newest_rows(client, seeded):
    assert ids_between(client, seeded, limit="3", **RANGE) == ["so-0", "so-1", "so-2"]


def test_a_range_above_the_cap_is_refused_not_cut(client, app, database_url, user):
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.daily_metrics (user_id, date)"
                     " select %s, d from generate_series(current_date - 1000, current_date, '1 day') as d",
                     [user.id])
    response = get(client, user, type="analytics", startDate="2020-01-01")
    assert response.status_code == 400
    assert response.get_json()["error"] == "export_too_large"
    assert "1000" in response.get_json()["message"]
    limited = get(client, user, type="analytics", startDate="2020-01-01", limit="1000")
    assert limited.status_code == 200 and limited.headers["X-Record-Count"] == "1000"


@pytest.mark.parametrize(("params", "needle"), [
    ({}, "type"),
    ({"type": "invoices"}, "unknown export type 'invoices'"),
    ({"type": "orders", "format": "xml"}, "unknown format 'xml'"),
    ({"type": "orders", "format": ""}, "unknown format ''"),
    ({"type": ""}, "type is required"),
    ({"type": "orders", "startDate": "2026-03-01 12:00:00"}, "startDate is not a date"),
    ({"type": "orders", "startDate": " 2026-03-01"}, "startDate is not a date"),
    ({"type": "orders", "startDate": "20260301"}, "startDate is not a date"),
    ({"type": "orders", "startDate": "2026-03-01T12:00"}, "startDate is not a date"),
    ({"type": "orders", "fields": "id,bogus"}, "unknown field(s) for orders: bogus"),
    ({"type": "orders", "fields": "id,,total"}, "empty name"),
    ({"type": "orders", "fields": "id,total,id"}, "more than once: id"),
    ({"type": "orders", "startDate": "yesterday"}, "startDate is not a date"),
    ({"type": "orders", "endDate": "2026-02-30"}, "endDate is not a date"),
    ({"type": "orders", "startDate": "2026-03-02", "endDate": "2026-03-01"}, "is after endDate"),
    # Dates whose range arithmetic would leave Python's datetime range (years 1..9999).
    ({"type": "orders", "endDate": "9999-12-31"}, "endDate is out of range"),
    ({"type": "orders", "endDate": "0001-01-01"}, "endDate is out of range"),
    ({"type": "analytics", "endDate": "9999-12-31T23:59:59.999999Z"}, "endDate is out of range"),
    ({"type": "orders", "startDate": "0001-01-01T00:00:00+05:00"}, "startDate is out of range"),
    ({"type": "orders", "startDate": "9999-12-31T23:59:59-05:00"}, "startDate is out of range"),
    ({"type": "orders", "startDate": "1899-12-31"}, "startDate is out of range"),
    ({"type": "orders", "endDate": "9001-01-01"}, "endDate is out of range"),
    ({"type": "orders", "limit": "0"}, "between 1 and 100000"),
    ({"type": "orders", "limit": "100001"}, "between 1 and 100000"),
    ({"type": "analytics", "limit": "1001"}, "between 1 and 1000"),
    ({"type": "orders", "limit": "ten"}, "limit"),
    ({"type": "orders", "sort": "total"}, "sort"),
])
def test_bad_requests_are_400_naming_the_problem(client, user, database_url, params, needle):
    response = client.get("/api/export", query_string=params, headers=user.headers)
    assert response.status_code == 400
    assert needle in json.dumps(response.get_json())
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.export_history").fetchone()[0] == 0


@pytest.mark.parametrize("bounds", [
    {"startDate": "2026-03-10t00:00:00z", "endDate": "2026-03-12T23:59:60Z"},  # RFC 3339 forms
    {"startDate": "2026-03-10T00:00:00.5+00:00", "endDate": ""},  # empty: as if not given
    {"startDate": "2026-03-10", "endDate": "2026-03-12T12:00:00", "fields": " id ,\tshopify_order_id"},
])
def test_every_form_the_document_states_is_accepted(client, user, bounds):
    assert get(client, user, type="orders", **bounds).status_code == 200


@pytest.mark.parametrize("type_", ["orders", "analytics"])
def test_the_widest_accepted_dates_export(client, user, type_):
    response = get(client, user, type=type_, startDate="1900-01-01T00:00:00+05:00", endDate="9000-12-31")
    assert response.status_code == 200, response.get_json()


def test_exports_need_a_signed_in_caller(client):
    assert client.get("/api/export?type=orders").status_code == 401
    assert client.get("/api/export/configs").status_code == 401


def test_users_export_only_their_own_rows(client, database_url, make_user):
    alice, bob = make_user(), make_user()
    seed_everything(database_url, alice.id, at=NOW)
    for type_ in EXPORT_CONFIGS:
        response = get(client, bob, type=type_, format="json", **RANGE)
        assert response.status_code == 200 and json.loads(response.get_data()) == [], type_
    assert len(json.loads(get(client, alice, type="orders", format="json", **RANGE).get_data())) == len(TRICKY)


def test_history_records_each_completed_export(client, database_url, seeded):
    response = get(client, seeded, type="orders", format="json", fields="id,total", limit="5", **RANGE)
    [row] = export_history(database_url)
    assert str(row["id"]) == response.headers["X-Export-Id"]
    assert (row["user_id"], row["export_type"], row["format"], row["fields"], row["row_limit"], row["status"],
            row["record_count"]) == (uuid.UUID(seeded.id), "orders", "json", ["id", "total"], 5, "completed", 5)
    assert row["start_date"] == datetime.fromisoformat(RANGE["startDate"] + "T00:00:00+00:00")
    assert row["end_date"] == datetime.fromisoformat(RANGE["endDate"] + "T00:00:00+00:00") + timedelta(days=1)
    assert row["finished_at"] is not None and row["error"] is None


def test_a_stream_the_client_abandons_is_recorded_and_frees_its_connection(app, database_url, seeded):
    client = app.test_client()
    response = client.get("/api/export", query_string={"type": "orders", **RANGE}, headers=seeded.headers,
                          buffered=False)
    first = next(response.response)
    assert first.startswith(b"ID,")
    response.close()
    [row] = export_history(database_url)
    assert (row["status"], row["record_count"]) == ("abandoned", None)
    # The pooled connection came back usable (the test pool holds four).
    for _ in range(5):
        assert get(client, seeded, type="leads", **RANGE).status_code == 200


def test_a_response_closed_before_its_body_is_recorded_as_abandoned(app, database_url, seeded):
    response = app.test_client().get("/api/export", query_string={"type": "orders", **RANGE},
                                     headers=seeded.headers, buffered=False)
    response.close()
    assert [r["status"] for r in export_history(database_url)] == ["abandoned"]


def test_a_failing_stream_is_recorded_as_failed(client, database_url, user):
    # Enough rows that the COPY is still running (blocked on the socket) after the first chunk.
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into public.customer_orders (user_id, shopify_order_id)"
                     " select %s, g::text from generate_series(1, 100000) as g", [user.id])
    response = client.get("/api/export", query_string={"type": "orders"}, headers=user.headers, buffered=False)
    iterator = iter(response.response)
    next(iterator)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select pg_cancel_backend(pid) from pg_stat_activity"
                            " where query like 'copy (select%' and pid <> pg_backend_pid()").fetchall() == [(True,)]
    with pytest.raises(psycopg.errors.QueryCanceled):
        for _ in iterator:
            pass
    response.close()
    [row] = export_history(database_url)
    assert row["status"] == "failed" and "QueryCanceled" in row["error"]
    assert get(client, user, type="leads").status_code == 200


def test_configs_serve_the_catalog(client, user):
    response = client.get("/api/export/configs", headers=user.headers)
    assert response.status_code == 200
    configs = {c["type"]: c for c in response.get_json()["configs"]}
    assert list(configs) == list(EXPORT_CONFIGS)
    orders = configs["orders"]
    assert (orders["label"], orders["defaultDateRange"], orders["maxRecords"], orders["dateField"]) == (
        "Orders", 90, 100000, "created_at")
    assert orders["fields"][2] == {"key": "customer_email", "label": "Customer Email", "default": True, "kind": "text"}
    assert configs["analytics"]["dateField"] == "date"


def test_the_catalog_matches_the_views(database_url):
    """Every field key is a column of its view, of the kind the catalog says (text cells alone are
    neutralised, so a wrong kind would leave a formula live or mangle a number)."""
    kinds = {"text": {"text"}, "uuid": {"uuid"}, "boolean": {"boolean"}, "date": {"date"},
             "timestamp": {"timestamp with time zone"}, "number": {"integer", "bigint", "numeric"}}
    with psycopg.connect(database_url) as conn:
        for config in EXPORT_CONFIGS.values():
            columns = dict(conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'public' and table_name = %s order by ordinal_position",
                [config.view]).fetchall())
            assert list(columns) == [f.key for f in config.fields] + ["user_id", "export_date"]
            for f in config.fields:
                assert columns[f.key] in kinds[f.kind], (config.type, f.key, columns[f.key])
            expected_date = "date" if config.date_kind == "date" else "timestamp with time zone"
            assert columns["export_date"] == expected_date


def test_a_user_streams_at_most_the_cap_at_once_and_a_finished_stream_frees_its_slot(settings, db, seeded, make_user):
    app = create_app(replace(settings, export_max_concurrent=2), database=db)
    client = app.test_client()
    # Begun, not read: each holds its read transaction, and its slot, until closed.
    held = [client.get("/api/export", query_string={"type": "orders", **RANGE}, headers=seeded.headers,
                       buffered=False) for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    refused = client.get("/api/export", query_string={"type": "orders", **RANGE}, headers=seeded.headers)
    assert refused.status_code == 429 and refused.json["error"] == "too_many_exports"
    # Another user's slots are their own.
    assert get(client, make_user(), type="orders", **RANGE).status_code == 200
    held[0].close()
    assert get(client, seeded, type="orders", **RANGE).status_code == 200
    held[1].close()


def test_sql_knows_each_types_field_keys_as_the_catalog_does(database_url):
    """export_fields() is what SQL holds schedules' field_selection to (its trigger)."""
    with psycopg.connect(database_url) as conn:
        for config in EXPORT_CONFIGS.values():
            row = conn.execute("select public.export_fields(%s)", [config.type]).fetchone()
            assert row is not None and row[0] == [f.key for f in config.fields], config.type
        assert conn.execute("select public.export_types()").fetchone() == (list(EXPORT_CONFIGS),)
