"""The failed-operations page and the data page under the Flask test client."""
from __future__ import annotations

import csv
import io
import re

import pytest

from .support.console import csrf, post_form, sign_in_locally
from .support.db import sql


@pytest.fixture
def browser(client):  # type: ignore[no-untyped-def]
    sign_in_locally(client, "owner@haven.local")
    return client


@pytest.fixture
def owner(browser, database_url) -> str:  # type: ignore[no-untyped-def]
    return sql(database_url, "select id::text from auth.users where email = 'owner@haven.local'")[0][0]


def add_item(url: str, user_id: str, status: str, operation: str = "shopify.register_webhooks",
             error: str | None = "Shopify: 503") -> str:
    attempts = 5 if status == "failed" else 1
    return sql(url, "insert into public.retry_queue (user_id, operation_type, payload, status, attempts, last_error,"
                    " resolved_at) values (%s, %s, '{}', %s, %s, %s, case when %s = 'resolved' then now() end)"
                    " returning id::text", [user_id, operation, status, attempts, error, status])[0][0]


def test_failed_operations_lists_counts_and_retries(browser, owner, database_url):
    failed = add_item(database_url, owner, "failed")
    add_item(database_url, owner, "pending", "pinterest.sync_boards")
    add_item(database_url, owner, "resolved", "exports.run_due", None)
    html = browser.get("/console/failed").get_data(as_text=True)
    assert re.search(r'id="count-failed"[^>]*><span class="n">1</span>', html)
    assert re.search(r'id="count-pending"[^>]*><span class="n">1</span>', html)
    assert "5/5" in html and "Shopify: 503" in html and html.count("Retry now</button>") == 2
    only_failed = browser.get("/console/failed?status=failed").get_data(as_text=True)
    assert "pinterest.sync_boards" not in only_failed and "shopify.register_webhooks" in only_failed
    assert "Unknown status filter" in browser.get("/console/failed?status=bogus").get_data(as_text=True)
    response = post_form(browser, "/console/failed", f"/console/failed/{failed}/retry", {"back": "/console/failed"})
    assert response.status_code == 303 and "done=retried" in response.headers["Location"]
    assert sql(database_url, "select status, max_attempts from public.retry_queue where id = %s", [failed]) == \
        [("pending", 6)]
    history = browser.get(f"/console/failed/{failed}").get_data(as_text=True)
    assert "Attempt history" in history and "No attempt has run yet." in history


def test_retrying_a_resolved_or_foreign_item_is_explained(browser, owner, make_user, database_url):
    resolved = add_item(database_url, owner, "resolved", error=None)
    theirs = add_item(database_url, make_user().id, "failed")
    conflict = post_form(browser, "/console/failed", f"/console/failed/{resolved}/retry")
    assert conflict.status_code == 409 and "already resolved" in conflict.get_data(as_text=True)
    missing = post_form(browser, "/console/failed", f"/console/failed/{theirs}/retry")
    assert missing.status_code == 404 and "not yours" in missing.get_data(as_text=True)
    assert sql(database_url, "select status from public.retry_queue where id = %s", [theirs]) == [("failed",)]


def test_failed_operations_pages(browser, owner, database_url):
    for _ in range(25):
        add_item(database_url, owner, "failed")
    first = browser.get("/console/failed").get_data(as_text=True)
    assert "Page 1 of 2 (25 items)" in first and first.count("Retry now</button>") == 20
    assert browser.get("/console/failed?page=2").get_data(as_text=True).count("Retry now</button>") == 5


def test_the_export_downloads_as_the_api_streams_it(browser, owner, database_url):
    sql(database_url, "insert into public.customer_orders (user_id, shopify_order_id, customer_email, total)"
                      " values (%s, '1001', 'jo@example.com', 45.5), (%s, '1002', '=cmd', 10)", [owner, owner])
    page = browser.get("/console/data?type=orders").get_data(as_text=True)
    assert 'value="customer_email" checked' in page and 'value="coupon_code" >' in page.replace('  ', ' ')
    response = browser.get("/console/data/export?type=orders&fields=shopify_order_id&fields=customer_email"
                           "&fields=total&preset=30&format=csv")
    assert response.status_code == 200 and response.headers["X-Record-Count"] == "2"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="orders-export-')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Shopify Order ID", "Customer Email", "Total"]
    assert sorted(rows[1:]) == [["1001", "jo@example.com", "45.50"], ["1002", "'=cmd", "10.00"]]
    history = browser.get("/console/data").get_data(as_text=True)
    assert re.search(r'<span class="badge completed">completed</span>\s*</td>\s*<td>2</td>', history)


def test_a_bad_export_form_is_explained_on_the_page(browser):
    response = browser.get("/console/data/export?type=orders&fields=total&preset=custom&start=2026-05-01"
                           "&end=2026-04-01&format=csv")
    assert response.status_code == 400 and "is after endDate" in response.get_data(as_text=True)
    empty = browser.get("/console/data/export?type=orders&preset=default&format=csv")
    assert empty.status_code == 400 and "Choose at least one field" in empty.get_data(as_text=True)


def test_schedules_are_created_edited_toggled_and_deleted(browser, database_url):
    bad = post_form(browser, "/console/data", "/console/data/schedules",
                    {"export_type": "orders", "frequency": "weekly", "format": "csv", "delivery_method": "email"})
    assert bad.status_code == 400 and "delivery_email is required" in bad.get_data(as_text=True)
    created = post_form(browser, "/console/data", "/console/data/schedules",
                        {"export_type": "orders", "frequency": "weekly", "format": "csv",
                         "delivery_method": "download"})
    assert created.status_code == 303
    [(schedule_id, enabled)] = sql(database_url, "select id::text, enabled from public.scheduled_exports")
    assert enabled
    post_form(browser, "/console/data", f"/console/data/schedules/{schedule_id}/enabled", {"enabled": "false"})
    assert sql(database_url, "select enabled from public.scheduled_exports") == [(False,)]
    edit = browser.get(f"/console/data/schedules/{schedule_id}").get_data(as_text=True)
    saved = browser.post(f"/console/data/schedules/{schedule_id}",
                         data={"csrf_token": csrf(edit), "export_type": "customers", "frequency": "monthly",
                               "format": "json", "delivery_method": "download", "enabled": "on"})
    assert saved.status_code == 303
    assert sql(database_url, "select export_type, frequency, format, enabled from public.scheduled_exports") == \
        [("customers", "monthly", "json", True)]
    post_form(browser, "/console/data", f"/console/data/schedules/{schedule_id}/delete")
    assert sql(database_url, "select count(*) from public.scheduled_exports") == [(0,)]


def test_a_stored_file_is_listed_and_downloaded_by_its_owner_only(browser, owner, make_user, database_url, app):
    history = sql(database_url, "insert into public.export_history (user_id, export_type, format, fields, status,"
                                " record_count, finished_at) values (%s, 'orders', 'csv', '{id}', 'completed', 1,"
                                " now()) returning id::text", [owner])[0][0]
    file_id = sql(database_url, "select public.store_export_file(%s, %s, 'orders-export.csv',"
                                " 'text/csv; charset=utf-8', convert_to('ID\n1\n', 'utf8'), 1, now() + interval '1 day',"
                                " 1000000)::text", [owner, history])[0][0]
    page = browser.get("/console/data").get_data(as_text=True)
    assert f'href="/console/data/files/{file_id}"' in page
    download = browser.get(f"/console/data/files/{file_id}")
    assert download.status_code == 200 and download.get_data(as_text=True) == "ID\n1\n"
    stranger = app.test_client()
    sign_in_locally(stranger, "stranger@haven.local")
    refused = stranger.get(f"/console/data/files/{file_id}")
    assert refused.status_code == 404 and "ID\n1" not in refused.get_data(as_text=True)
