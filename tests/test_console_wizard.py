"""The setup wizard and the integrations page under the Flask test client: steps and progress,
skip, API-key forms against a fake Klaviyo, and OAuth bound to the browser session that began it."""
from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest

from service.auth import sign_dev_token
from tests.fakes.klaviyo import FakeKlaviyo

from .conftest import JWT_SECRET
from .support.console import console_app, csrf, post_form, sign_in_locally
from .support.db import sql
from .support.shopify import SHOP

KEY = "pk_good_klaviyo_key_0001"


@pytest.fixture
def wizard_settings(shop_settings, httpserver):  # type: ignore[no-untyped-def]
    base = httpserver.url_for("/").rstrip("/")
    return replace(shop_settings, klaviyo_api_base=base, app_url="http://hub.test")


@pytest.fixture
def klaviyo(httpserver):  # type: ignore[no-untyped-def]
    fake = FakeKlaviyo(httpserver, keys=(KEY,))
    yield fake
    fake.close()


@pytest.fixture
def app(wizard_settings, db):  # type: ignore[no-untyped-def]
    return console_app(wizard_settings, db)


@pytest.fixture
def browser(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in_locally(client, "owner@haven.local")
    return client


def step_of(html: str) -> str:
    return re.search(r'id="step-(\w+)"', html).group(1)


def test_the_wizard_opens_the_first_pending_step_and_skip_moves_on(browser, database_url):
    html = browser.get("/console/setup").get_data(as_text=True)
    assert step_of(html) == "shopify"
    assert "0 of 8 complete (0%)" in html and '<progress class="bar-native" max="100" value="0"' in html
    response = post_form(browser, "/console/setup", "/console/setup/shopify/skip")
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert step_of(html) == "pinterest" and "Step skipped" in html
    assert "0 of 8 complete (0%), 1 skipped" in html
    # Back goes to the skipped step, which still offers its connect form.
    assert step_of(browser.get("/console/setup?step=shopify").get_data(as_text=True)) == "shopify"


def test_an_api_key_connects_and_a_refused_key_is_explained(browser, klaviyo, database_url):
    refused = post_form(browser, "/console/setup?step=klaviyo", "/console/setup/klaviyo/connect",
                        {"api_key": "pk_wrong_key_000000000"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "The provider refused this key" in page and step_of(page) == "klaviyo"
    assert "pk_wrong_key" not in page
    klaviyo.mode = "down"
    down = post_form(browser, "/console/setup?step=klaviyo", "/console/setup/klaviyo/connect", {"api_key": KEY})
    assert down.status_code == 502 and "Nothing was stored" in down.get_data(as_text=True)
    klaviyo.mode = "ok"
    ok = post_form(browser, "/console/setup?step=klaviyo", "/console/setup/klaviyo/connect", {"api_key": KEY})
    assert ok.status_code == 303
    html = browser.get(ok.headers["Location"]).get_data(as_text=True)
    assert "Klaviyo is connected." in html and "1 of 8 complete (12%)" in html
    assert KEY not in html


def test_operator_mode_and_design_rules_complete_their_steps(browser, database_url):
    post_form(browser, "/console/setup?step=design_rules", "/console/setup/design-rules", {"use_defaults": "1"})
    bad = post_form(browser, "/console/setup?step=design_rules", "/console/setup/design-rules",
                    {"design_rules": '{"typography": 1}'})
    assert bad.status_code == 400 and "Please fix these rules" in bad.get_data(as_text=True)
    wrong = post_form(browser, "/console/setup?step=operator_mode", "/console/setup/operator-mode",
                      {"operator_mode": "chaos"})
    assert wrong.status_code == 400
    post_form(browser, "/console/setup?step=operator_mode", "/console/setup/operator-mode",
              {"operator_mode": "assisted"})
    assert sql(database_url, "select operator_mode, setup_progress->>'design_rules', setup_progress->>'operator_mode'"
                             " from public.user_settings join auth.users u on u.id = user_id"
                             " where u.email = 'owner@haven.local'") == [("assisted", "completed", "completed")]


def _authorize(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def test_shopify_connects_in_the_browser_that_began_it_and_lands_in_the_wizard(browser, fake, database_url):
    started = post_form(browser, "/console/setup", "/console/setup/shopify/install", {"shop": SHOP})
    state = _authorize(started)["state"]
    callback = urlsplit(fake.approve(SHOP, state, "http://hub.test/api/integrations/shopify/callback"))
    back = browser.get(f"{callback.path}?{callback.query}")
    assert back.headers["Location"] == \
        "http://hub.test/console/integrations?success=shopify_connected&provider=shopify"
    to_wizard = browser.get("/console/integrations?success=shopify_connected&provider=shopify")
    assert to_wizard.status_code == 303 and to_wizard.headers["Location"].startswith("/console/setup?step=shopify")
    html = browser.get(to_wizard.headers["Location"]).get_data(as_text=True)
    assert "Shopify is connected." in html and "Connected to Shopify" in html


def test_a_second_browser_cannot_finish_the_first_ones_flow(app, browser, fake, database_url):
    for other in (app.test_client(), _signed_in_elsewhere(app)):  # signed out; the same account elsewhere
        started = post_form(browser, "/console/setup", "/console/setup/shopify/install", {"shop": SHOP})
        callback = urlsplit(fake.approve(SHOP, _authorize(started)["state"],
                                         "http://hub.test/api/integrations/shopify/callback"))
        refused = other.get(f"{callback.path}?{callback.query}")
        assert "error=other_browser" in refused.headers["Location"]
        # The state was spent by the refusal: not even the right browser can use it now.
        assert "error=invalid_state" in browser.get(f"{callback.path}?{callback.query}").headers["Location"]
    assert not [r for r in fake.requests if r["op"] == "token"]
    assert sql(database_url, "select count(*) from public.integration_credentials") == [(0,)]


def _signed_in_elsewhere(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in_locally(client, "owner@haven.local")  # the same account, another browser session
    return client


def test_a_held_api_flow_is_confirmed_on_the_integrations_page_by_its_user_only(app, browser, fake, database_url):
    owner_id = sql(database_url, "select id::text from auth.users where email = 'owner@haven.local'")[0][0]
    token = sign_dev_token(JWT_SECRET, owner_id, "owner@haven.local")
    url = browser.get(f"/api/integrations/shopify/install?shop={SHOP}&format=json",
                      headers={"Authorization": f"Bearer {token}"}).json["authorize_url"]
    state = dict(parse_qsl(urlsplit(url).query))["state"]
    callback = urlsplit(fake.approve(SHOP, state, "http://hub.test/api/integrations/shopify/callback"))
    held = urlsplit(app.test_client().get(f"{callback.path}?{callback.query}").headers["Location"])
    confirmation = dict(parse_qsl(held.query))["confirm"]
    stranger = app.test_client()
    sign_in_locally(stranger, "stranger@haven.local")
    page = stranger.get(f"/console/integrations?{held.query}").get_data(as_text=True)
    refused = stranger.post("/console/integrations/shopify/confirm",
                            data={"csrf_token": csrf(page), "confirmation": confirmation})
    assert refused.status_code == 400 and "started by another account" in refused.get_data(as_text=True)
    page = browser.get(f"/console/integrations?{held.query}").get_data(as_text=True)
    assert "Finish connecting Shopify" in page
    done = browser.post("/console/integrations/shopify/confirm",
                        data={"csrf_token": csrf(page), "confirmation": confirmation})
    assert done.status_code == 303 and "done=connected" in done.headers["Location"]


def test_disconnect_is_confirmed_first(browser, klaviyo, database_url):
    post_form(browser, "/console/integrations", "/console/integrations/klaviyo/connect", {"api_key": KEY})
    page = browser.get("/console/integrations/klaviyo/disconnect").get_data(as_text=True)
    assert "Disconnect Klaviyo?" in page
    assert sql(database_url, "select status from public.integrations where provider = 'klaviyo'") == [("connected",)]
    done = browser.post("/console/integrations/klaviyo/disconnect", data={"csrf_token": csrf(page)})
    assert done.status_code == 303
    assert sql(database_url, "select status from public.integrations where provider = 'klaviyo'") == [("disconnected",)]
    html = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "Klaviyo is disconnected." in html


def test_pages_need_a_session(app):
    client = app.test_client()
    for path in ("/console/setup", "/console/integrations"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/console/sign-in?next=")
