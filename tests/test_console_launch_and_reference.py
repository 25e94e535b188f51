"""Installs that start at Shopify (the app URL), and the API reference page."""
from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from service.providers.shopify.client import oauth_hmac

from .support.console import console_app, csrf, sign_in_locally
from .support.db import sql
from .support.shopify import SHOP

LAUNCH = "/api/integrations/shopify/launch"


@pytest.fixture
def app(shop_settings, db):  # type: ignore[no-untyped-def]
    return console_app(replace(shop_settings, app_url="http://hub.test"), db)


def signed(fake, **params) -> str:  # type: ignore[no-untyped-def]
    params = {"host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvaGF2ZW4", "shop": SHOP,
              "timestamp": str(int(time.time())), **params}
    params["hmac"] = oauth_hmac(params.items(), fake.client_secret)
    return f"{LAUNCH}?{urlencode(params)}"


def test_a_forged_launch_is_refused(app, fake):
    client = app.test_client()
    url = signed(fake).replace("hmac=", "hmac=0")
    assert "error=invalid_hmac" in client.get(url).headers["Location"]


def test_a_merchant_from_shopify_signs_in_then_consents_and_lands_in_the_console(app, fake, database_url):
    client = app.test_client()
    launch = signed(fake)
    to_sign_in = client.get(launch)
    assert to_sign_in.status_code == 302 and to_sign_in.headers["Location"].startswith("/console/sign-in?next=")
    page = client.get(to_sign_in.headers["Location"]).get_data(as_text=True)
    signed_in = client.post("/console/sign-in/local", data={"csrf_token": csrf(page), "email": "merchant@haven.local",
                                                            "next": dict(parse_qsl(urlsplit(
                                                                to_sign_in.headers["Location"]).query))["next"]})
    assert signed_in.headers["Location"] == launch
    consent = client.get(launch)
    assert consent.status_code == 302
    authorize = urlsplit(consent.headers["Location"])
    assert authorize.path == f"/shops/{SHOP}/admin/oauth/authorize"
    state = dict(parse_qsl(authorize.query))["state"]
    callback = urlsplit(fake.approve(SHOP, state, "http://hub.test/api/integrations/shopify/callback"))
    landed = client.get(f"{callback.path}?{callback.query}")
    assert landed.headers["Location"] == "http://hub.test/console/integrations?success=shopify_connected&provider=shopify"
    assert sql(database_url, "select status from public.integrations i join auth.users u on u.id = i.user_id"
                             " where u.email = 'merchant@haven.local' and provider = 'shopify'") == [("connected",)]
    # Opening the app again from Shopify's admin lands in the console, with no new flow.
    again = client.get(signed(fake))
    assert again.headers["Location"] == "http://hub.test/console/integrations?provider=shopify"


def test_a_launch_that_went_stale_during_sign_in_opens_the_wizard_with_the_shop(app, fake):
    client = app.test_client()
    sign_in_locally(client, "merchant@haven.local")
    stale = client.get(signed(fake, timestamp=str(int(time.time()) - 3600)))
    assert stale.headers["Location"] == f"/console/setup?step=shopify&shop={SHOP}"
    assert f'value="{SHOP}"' in client.get(stale.headers["Location"]).get_data(as_text=True)


def test_the_api_reference_lists_every_endpoint(client):
    sign_in_locally(client)
    html = client.get("/console/api").get_data(as_text=True)
    document = client.get("/api/openapi.json").json
    for path in document["paths"]:
        assert f'<span class="mono">{path}</span>' in html, path
    assert "<script" not in html
    assert "Retry one of the caller" in html and "status" in html
