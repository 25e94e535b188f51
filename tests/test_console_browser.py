"""The console in a real browser (Debian's chromium through Playwright): the journeys of issue 13."""
from __future__ import annotations

import csv

import pytest

from service.migrate import load_seed
from tests.fakes.klaviyo import FakeKlaviyo

from .support.browser import SHOP, chromium, live_server, sign_in  # noqa: F401 (chromium: a fixture)
from .support.db import sql

KEY = "pk_good_klaviyo_key_0001"


@pytest.fixture
def live(settings, db, tmp_path, httpserver):  # type: ignore[no-untyped-def]
    klaviyo = FakeKlaviyo(httpserver, keys=(KEY,))
    with live_server(settings, db, tmp_path, klaviyo_api_base=httpserver.url_for("/").rstrip("/")) as server:
        yield server
    klaviyo.close()


@pytest.fixture
def context(chromium):  # type: ignore[no-untyped-def]
    ctx = chromium.new_context(viewport={"width": 1200, "height": 900})
    yield ctx
    ctx.close()


def test_sign_in_walk_the_wizard_connect_a_key_and_shopify_skip_a_step(live, context, database_url):
    page = context.new_page()
    page.goto(f"{live.base}/")
    page.wait_for_url(f"{live.base}/console/sign-in")
    live.screenshot(page, "sign-in")
    sign_in(page, live.base)
    assert page.locator("#step-shopify").is_visible()
    assert page.locator("#progress-text").inner_text().startswith("0 of 8 complete")
    live.screenshot(page, "wizard")

    # Shopify through OAuth against the fake: consent, callback, back in the wizard.
    page.get_by_label("Shop address").fill(SHOP)
    page.get_by_role("button", name="Connect Shopify").click()
    page.get_by_role("link", name="Install app").click()
    page.wait_for_url(f"{live.base}/console/setup?step=shopify*")
    assert "Shopify is connected." in page.locator("#page-outcome").inner_text()
    assert page.locator("#progress-text").inner_text().startswith("1 of 8 complete (12%)")

    # Pinterest is not configured here: skip it.
    page.get_by_role("link", name="Next").click()
    page.wait_for_url("**step=pinterest")
    page.get_by_role("button", name="Skip for now").click()
    page.wait_for_selector("#step-klaviyo")
    assert "1 skipped" in page.locator("#progress-text").inner_text()

    # Klaviyo: a refused key is explained, the right key connects.
    page.get_by_label("Klaviyo API key").fill("pk_wrong_key_0000000000")
    page.get_by_role("button", name="Connect Klaviyo").click()
    page.wait_for_selector("#page-error")
    assert "refused this key" in page.locator("#page-error").inner_text()
    live.screenshot(page, "wizard-refused-key")
    page.get_by_label("Klaviyo API key").fill(KEY)
    page.get_by_role("button", name="Connect Klaviyo").click()
    page.wait_for_selector("#page-outcome")
    assert "Klaviyo is connected." in page.locator("#page-outcome").inner_text()
    assert page.locator("#progress-text").inner_text().startswith("2 of 8 complete (25%)")
    assert int(page.locator("progress").get_attribute("value")) == 25

    page.goto(f"{live.base}/console/integrations")
    assert page.locator("#integration-shopify .badge").inner_text() == "connected"
    live.screenshot(page, "integrations")

    # Klaviyo's default list, picked from the account's lists (three pages of them at the fake).
    page.get_by_role("link", name="Choose the default list…").click()
    page.get_by_label("Default list").select_option(label="List 12")
    live.screenshot(page, "klaviyo-default-list")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("#page-outcome")
    assert "default list is saved" in page.locator("#page-outcome").inner_text()
    assert "List 12" in page.locator("#integration-klaviyo").inner_text()


def test_the_second_browser_cannot_finish_the_first_ones_install(live, chromium, context, database_url):
    first = context.new_page()
    sign_in(first, live.base)
    # The first browser starts the install; the consent page's link (which carries Shopify's
    # signed answer) is sent on and opened in a second browser: an install link finished elsewhere.
    first.get_by_label("Shop address").fill(SHOP)
    first.get_by_role("button", name="Connect Shopify").click()
    approve = first.get_by_role("link", name="Install app").get_attribute("href")
    other = chromium.new_context()
    try:
        second = other.new_page()
        sign_in(second, live.base, "someone-else@haven.local")
        second.goto(approve)
        second.wait_for_url(f"{live.base}/console/integrations?error=other_browser*")
        assert "different browser" in second.locator("#page-outcome").inner_text()
    finally:
        other.close()
    assert sql(database_url, "select count(*) from public.integration_credentials") == [(0,)]


def test_a_form_without_its_csrf_token_is_refused(live, context, database_url):
    page = context.new_page()
    sign_in(page, live.base)
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_role("button", name="Skip for now").click()
    page.wait_for_selector("h1:has-text('did not come from this site')")
    assert sql(database_url, "select setup_progress->>'shopify' from public.user_settings") == [("pending",)]


def _owner(database_url: str, email: str = "demo@haven.local") -> str:
    return sql(database_url, "select id::text from auth.users where email = %s", [email])[0][0]


def test_a_failed_item_is_retried_from_its_page(live, context, database_url):
    page = context.new_page()
    sign_in(page, live.base)
    owner = _owner(database_url)
    item = sql(database_url, "insert into public.retry_queue (user_id, operation_type, payload, status, attempts,"
                             " max_attempts, last_error) values (%s, 'shopify.register_webhooks', '{}', 'failed', 5, 5,"
                             " 'Shopify: 503 Service Unavailable') returning id::text", [owner])[0][0]
    page.goto(f"{live.base}/console/failed")
    row = page.locator(f"#item-{item}")
    assert "5/5" in row.inner_text() and "Shopify: 503" in row.inner_text()
    live.screenshot(page, "failed-retry")
    row.get_by_role("button", name="Retry shopify.register_webhooks now").click()
    page.wait_for_selector("#page-outcome")
    assert "tried again now" in page.locator("#page-outcome").inner_text()
    assert page.locator(f"#item-{item} .badge").inner_text() == "pending"
    assert sql(database_url, "select status from public.retry_queue where id = %s", [item]) == [("pending",)]
    page.get_by_role("link", name="Attempt history of shopify.register_webhooks").click()
    page.wait_for_selector("h2:has-text('Attempt history')")


def test_an_export_is_downloaded_and_a_schedule_created_and_deleted(live, context, database_url):
    page = context.new_page()
    sign_in(page, live.base)
    owner = _owner(database_url)
    sql(database_url, "insert into public.customer_orders (user_id, shopify_order_id, customer_email, total)"
                      " values (%s, '1001', 'jo@example.com', 45.5)", [owner])
    page.goto(f"{live.base}/console/data")
    page.get_by_label("Leads").check()
    page.wait_for_url("**/console/data?type=leads*")  # the script shows the chosen type's fields
    assert page.get_by_label("Quiz Completed").is_checked()
    page.get_by_label("Orders").check()
    page.wait_for_url("**/console/data?type=orders*")
    page.get_by_label("Coupon Code").check()
    page.get_by_label("Range").select_option("30")
    live.screenshot(page, "data-export-form")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the export").click()
    path = download.value.path()
    rows = list(csv.reader(open(path, encoding="utf-8")))
    assert rows[0][:3] == ["ID", "Shopify Order ID", "Customer Email"] and "Coupon Code" in rows[0]
    assert [row[1] for row in rows[1:]] == ["1001"]

    page.goto(f"{live.base}/console/data")
    page.locator("#new-schedule summary").click()
    page.get_by_label("Export", exact=True).select_option("customers")
    page.get_by_label("Every").select_option("monthly")
    page.get_by_role("button", name="Create the schedule").click()
    page.wait_for_selector("#page-outcome")
    assert "Schedule created." in page.locator("#page-outcome").inner_text()
    assert sql(database_url, "select export_type, frequency from public.scheduled_exports") == [("customers", "monthly")]
    page.get_by_role("button", name="Delete the Customers schedule").click()
    page.wait_for_selector("#page-outcome:has-text('Schedule deleted.')")
    assert sql(database_url, "select count(*) from public.scheduled_exports") == [(0,)]


def test_phone_width_keeps_the_pages_usable(live, chromium, database_url):
    phone = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        page = phone.new_page()
        sign_in(page, live.base)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the wizard scrolls sideways at phone width ({width}px)"
        page.keyboard.press("Tab")  # the skip link comes first, and shows itself when focused
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        live.screenshot(page, "wizard-phone")
    finally:
        phone.close()


def test_the_demo_shop_fills_every_page_and_the_api_reference_reads(live, context, database_url):
    load_seed(database_url)
    page = context.new_page()
    sign_in(page, live.base)
    for path, name, expect in (("/console/failed", "failed-operations", "shopify: 503 from the Admin API"),
                               ("/console/data", "data", "stored file"),
                               ("/console/api", "api-reference", "/api/export/schedules")):
        page.goto(f"{live.base}{path}")
        page.get_by_text(expect).first.wait_for()
        live.screenshot(page, name)
    # Keyboard: the API reference's first section link is reachable and visibly focused.
    page.locator(".toc a").first.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
