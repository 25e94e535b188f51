"""Provider clients against the fakes, and the signature checks against published vectors."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from service.config import Settings
from service.providers import klaviyo
from service.errors import ProviderAuthError, ProviderUnavailable
from service.providers.pinterest import client as pinterest_module
from service.providers.shopify import client as shopify_module
from service.providers.pinterest.client import PinterestClient
from service.providers.shopify.client import (ShopifyClient, normalise_shop, oauth_message, verify_oauth_hmac,
                                       verify_webhook_hmac, webhook_hmac)

from .fakes.base import json_response
from .fakes.klaviyo import JSONAPI, FakeKlaviyo
from .fakes.pinterest import FakePinterest
from .fakes.server import serve
from .fakes.shopify import FakeShopify

SHOP = "haven-prints.myshopify.com"

# Shopify's documented OAuth example (secret "hush"), reproduced by the official SDKs' tests.
SHOPIFY_DOC_QUERY = ("code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c"
                     "328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")


def test_shopify_documented_oauth_hmac_verifies():
    params = parse_qsl(SHOPIFY_DOC_QUERY)
    given = dict(params)["hmac"]
    assert oauth_message(params) == ("code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
                                     "&state=0.6784241404160823&timestamp=1337178173")
    assert verify_oauth_hmac(params, given, "hush")
    assert not verify_oauth_hmac(params, given, "hush2")
    tampered = [(k, "other-shop.myshopify.com" if k == "shop" else v) for k, v in params]
    assert not verify_oauth_hmac(tampered, given, "hush")
    assert not verify_oauth_hmac(params, None, "hush")


def test_shopify_oauth_message_encodes_spaces_as_percent_20_and_joins_repeats():
    assert oauth_message([("b", "x y"), ("a", "1"), ("a", "2"), ("signature", "s")]) == "a=1%2C2&b=x%20y"


def test_shopify_webhook_hmac_published_vector():
    body = b'{"test":{"test2": "testing"}}'
    assert webhook_hmac(body, "sphss_sjdnbsfsdjbgksbgksgb") == "RJCzgKmUoGP/Ylod4MhDP+BXTVOaV4NVbdqa3xn9vw4="
    assert verify_webhook_hmac(body, "RJCzgKmUoGP/Ylod4MhDP+BXTVOaV4NVbdqa3xn9vw4=", "sphss_sjdnbsfsdjbgksbgksgb")
    assert not verify_webhook_hmac(body + b" ", "RJCzgKmUoGP/Ylod4MhDP+BXTVOaV4NVbdqa3xn9vw4=",
                                   "sphss_sjdnbsfsdjbgksbgksgb")


@pytest.mark.parametrize("raw, expected", [
    ("Haven-Prints.myshopify.com", "haven-prints.myshopify.com"),
    ("haven.myshopify.com", "haven.myshopify.com"),
    ("haven.myshopify.com.evil.example", None),
    ("-haven.myshopify.com", None),
    ("haven.example.com", None),
    ("https://haven.myshopify.com", None),
    ("", None),
])
def test_shop_domains_are_validated(raw, expected):
    assert normalise_shop(raw) == expected


@pytest.fixture
def shopify():
    fake = FakeShopify()
    fake.add_shop(SHOP)
    with serve(fake.app()) as base:
        client = ShopifyClient(client_id=fake.client_id, client_secret=fake.client_secret, api_version="2026-10",
                               base_url_template=base + "/shops/{shop}", timeout=5)
        yield fake, client


def test_shopify_code_exchange_gives_an_expiring_token_and_rotating_refresh(shopify):
    fake, client = shopify
    callback = dict(parse_qsl(urlsplit(fake.approve(SHOP, "st", "https://app.test/cb")).query))
    grant = client.exchange_code(SHOP, callback["code"])
    assert grant.refresh_token and grant.expires_at and grant.expires_at > datetime.now(timezone.utc)
    assert fake.requests[-1]["expiring"] == "1"
    with pytest.raises(ProviderAuthError):
        client.exchange_code(SHOP, callback["code"])  # single use
    assert client.shop_info(SHOP, grant.access_token)["name"] == "Haven Prints"
    rotated = client.refresh(SHOP, grant.refresh_token)
    assert rotated.refresh_token != grant.refresh_token and rotated.access_token != grant.access_token
    client.refresh(SHOP, rotated.refresh_token)  # using the replacement retires the first one
    with pytest.raises(ProviderAuthError):
        client.refresh(SHOP, grant.refresh_token)


def test_shopify_graphql_failures_are_classified(shopify):
    fake, client = shopify
    token = fake.issue_access_token(SHOP)
    fake.fail_next("shop", "throttled")
    with pytest.raises(ProviderUnavailable):
        client.shop_info(SHOP, token)
    fake.fail_next("graphql", 503)
    with pytest.raises(ProviderUnavailable):
        client.shop_info(SHOP, token)
    with pytest.raises(ProviderAuthError):
        client.shop_info(SHOP, "shpat_wrong")
    expired = fake.issue_access_token(SHOP, lifetime=-1)
    with pytest.raises(ProviderAuthError):
        client.shop_info(SHOP, expired)


def test_shopify_webhook_subscriptions_create_list_delete(shopify):
    fake, client = shopify
    token = fake.issue_access_token(SHOP)
    ids = [client.create_webhook(SHOP, token, topic, "https://hub.test/api/webhooks/shopify")
           for topic in ("orders/create", "orders/updated", "app/uninstalled")]
    listed = list(client.list_webhooks(SHOP, token))
    assert sorted(w["id"] for w in listed) == sorted(ids)
    assert {w["topic"] for w in listed} == {"ORDERS_CREATE", "ORDERS_UPDATED", "APP_UNINSTALLED"}
    fake.fail_next("webhookSubscriptionCreate", "user_errors")
    with pytest.raises(ProviderUnavailable, match="Address is invalid"):
        client.create_webhook(SHOP, token, "customers/create", "https://hub.test/api/webhooks/shopify")
    client.delete_webhook(SHOP, token, ids[0])
    client.delete_webhook(SHOP, token, ids[0])  # already gone: no error
    assert len(list(client.list_webhooks(SHOP, token))) == 2


@pytest.mark.parametrize("fault", ["null_cursor", "repeat_cursor"])
def test_shopify_webhook_listing_that_does_not_progress_is_unavailable(shopify, fault):
    fake, client = shopify
    token = fake.issue_access_token(SHOP)
    for topic in ("orders/create", "orders/updated", "app/uninstalled"):
        client.create_webhook(SHOP, token, topic, "https://hub.test/api/webhooks/shopify")
    fake.cursor_fault = fault
    with pytest.raises(ProviderUnavailable, match="does not progress") as raised:
        list(client.list_webhooks(SHOP, token))
    assert token not in str(raised.value)
    # Caught on the first page that repeats itself, not after the fake gives up.
    assert sum(1 for r in fake.requests if r["op"] == "webhookSubscriptions") <= 2


def test_shopify_webhook_listing_stops_after_the_page_limit(shopify, monkeypatch):
    fake, client = shopify
    token = fake.issue_access_token(SHOP)
    monkeypatch.setattr(shopify_module, "MAX_WEBHOOK_PAGES", 3)
    fake.cursor_fault = "endless"
    with pytest.raises(ProviderUnavailable, match="more than 3 pages"):
        list(client.list_webhooks(SHOP, token))
    assert sum(1 for r in fake.requests if r["op"] == "webhookSubscriptions") == 3


@pytest.mark.parametrize("planted", [
    {"topic": "ORDERS_CREATE", "uri": "https://hub.test/api/webhooks/shopify"},
    {"id": "gid://shopify/WebhookSubscription/1", "topic": None, "uri": "https://hub.test/api/webhooks/shopify"},
    {"id": 7, "topic": "ORDERS_CREATE", "uri": "https://hub.test/api/webhooks/shopify"},
])
def test_shopify_webhook_subscription_without_its_fields_is_unavailable(shopify, planted):
    fake, client = shopify
    token = fake.issue_access_token(SHOP)
    fake.shops[SHOP].webhooks["planted"] = planted
    with pytest.raises(ProviderUnavailable, match="without an id, topic or uri"):
        list(client.list_webhooks(SHOP, token))


def test_shopify_unreachable_is_unavailable():
    client = ShopifyClient(client_id="x", client_secret="y", api_version="2026-10",
                           base_url_template="http://127.0.0.1:9/shops/{shop}", timeout=2)
    with pytest.raises(ProviderUnavailable):
        client.exchange_code(SHOP, "code")


@pytest.fixture
def pinterest():
    fake = FakePinterest()
    with serve(fake.app()) as base:
        client = PinterestClient(client_id=fake.client_id, client_secret=fake.client_secret,
                                 api_base=base + "/v5", oauth_url=base + "/oauth/", timeout=5)
        yield fake, client


def test_pinterest_exchange_refresh_rotation_and_refusal(pinterest):
    fake, client = pinterest
    code = dict(parse_qsl(urlsplit(fake.approve("st", "https://hub.test/cb")).query))["code"]
    with pytest.raises(ProviderAuthError):
        client.exchange_code(code + "x", "https://hub.test/cb")
    grant = client.exchange_code(code, "https://hub.test/cb")
    assert client.user_account(grant.access_token)["username"] == "havenprints"
    rotated = client.refresh(grant.refresh_token)
    assert rotated.refresh_token != grant.refresh_token
    with pytest.raises(ProviderAuthError):
        client.refresh(grant.refresh_token)  # the old refresh token died with the rotation
    bad = PinterestClient(client_id=fake.client_id, client_secret="wrong", api_base=client.api_base,
                          oauth_url=client.oauth_url, timeout=5)
    with pytest.raises(ProviderAuthError):
        bad.refresh(rotated.refresh_token)


def test_pinterest_boards_follow_every_bookmark(pinterest):
    fake, client = pinterest
    fake.add_boards(613)
    token = client.exchange_code(dict(parse_qsl(urlsplit(fake.approve("s", "https://h/cb")).query))["code"],
                                 "https://h/cb").access_token
    boards = list(client.boards(token))
    assert len(boards) == 613 and len({b.id for b in boards}) == 613
    assert sum(1 for r in fake.requests if r["op"] == "boards") == 3
    fake.fail_next("boards", 429)
    with pytest.raises(ProviderUnavailable):
        list(client.boards(token))


def test_pinterest_authorize_url_carries_the_contract_parameters(pinterest):
    _, client = pinterest
    url = client.authorize_url(scopes="boards:read,pins:read", state="s1", redirect_uri="https://h/cb")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {"client_id": "fake-pinterest-app-id", "redirect_uri": "https://h/cb",
                     "response_type": "code", "scope": "boards:read,pins:read", "state": "s1"}
    assert requests.utils.urlparse(url).path.endswith("/oauth/")


def pinterest_token(fake: FakePinterest, client: PinterestClient) -> str:
    code = dict(parse_qsl(urlsplit(fake.approve("s", "https://h/cb")).query))["code"]
    return client.exchange_code(code, "https://h/cb").access_token


def board_requests(fake: FakePinterest) -> int:
    return sum(1 for r in fake.requests if r["op"] == "boards")


def test_pinterest_repeated_bookmark_is_unavailable(pinterest):
    fake, client = pinterest
    fake.add_boards(5)
    token = pinterest_token(fake, client)
    fake.bookmark_fault = "repeat"
    with pytest.raises(ProviderUnavailable, match="does not progress") as raised:
        list(client.boards(token, page_size=2))
    assert token not in str(raised.value)
    assert board_requests(fake) == 2  # the second page handed back its own bookmark


def test_pinterest_boards_stop_after_the_page_limit(pinterest, monkeypatch):
    fake, client = pinterest
    fake.add_boards(5)
    token = pinterest_token(fake, client)
    monkeypatch.setattr(pinterest_module, "MAX_BOARD_PAGES", 3)
    fake.bookmark_fault = "endless"
    with pytest.raises(ProviderUnavailable, match="more than 3 pages"):
        list(client.boards(token))
    assert board_requests(fake) == 3


def drop_id(board: dict[str, Any]) -> None:
    del board["id"]


@pytest.mark.parametrize("spoil", [
    drop_id,
    lambda board: board.update(id=""),
    lambda board: board.update(pin_count="many"),
    lambda board: board.update(follower_count=[3]),
    lambda board: board.update(pin_count=2**40),
    lambda board: board.update(name={"en": "Prints"}),
], ids=["no_id", "blank_id", "text_count", "list_count", "huge_count", "object_name"])
def test_pinterest_malformed_board_is_unavailable(pinterest, spoil: Callable[[dict[str, Any]], None]):
    fake, client = pinterest
    fake.add_boards(3)
    token = pinterest_token(fake, client)
    spoil(fake.boards[1])
    with pytest.raises(ProviderUnavailable, match="a board"):
        list(client.boards(token))


def test_pinterest_board_that_is_not_an_object_is_unavailable(pinterest):
    fake, client = pinterest
    fake.add_boards(2)
    token = pinterest_token(fake, client)
    fake.boards.append("900000000000009")  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable, match="without an id"):
        list(client.boards(token))


# --- Klaviyo key check --------------------------------------------------------------------------

KLAVIYO_KEY = "pk_good_klaviyo_key_0001"


class SpoiledKlaviyo(FakeKlaviyo):
    """FakeKlaviyo whose successful answers to one path are rewritten before they leave."""

    def __init__(self, server: HTTPServer, path: str, spoil: Callable[[dict[str, Any]], None]) -> None:
        self.spoiled_path, self.spoil = path, spoil
        super().__init__(server, keys=(KLAVIYO_KEY,))

    def accounts(self, request: Request) -> Response:
        return self.spoiled(request, super().accounts(request))

    def lists(self, request: Request) -> Response:
        return self.spoiled(request, super().lists(request))

    def spoiled(self, request: Request, response: Response) -> Response:
        if response.status_code != 200 or request.path.rstrip("/") != self.spoiled_path:
            return response
        body = json.loads(response.get_data())
        self.spoil(body)
        return json_response(body, content_type=JSONAPI)


@pytest.fixture
def klaviyo_settings(httpserver: HTTPServer, tmp_path: Path) -> Settings:
    return replace(Settings.from_env(environ={}, env_file=tmp_path / "absent.env"),
                   klaviyo_api_base=httpserver.url_for("/").rstrip("/"), api_key_check_timeout_seconds=2.0)


@pytest.fixture
def spoiled_klaviyo(httpserver: HTTPServer) -> Iterator[Callable[[str, Callable[[dict[str, Any]], None]], None]]:
    fakes: list[FakeKlaviyo] = []

    def spoil(path: str, how: Callable[[dict[str, Any]], None]) -> None:
        fakes.append(SpoiledKlaviyo(httpserver, path, how))

    yield spoil
    for fake in fakes:
        fake.close()


def set_account_member(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["data"][0].update({name: value})


def set_contact_information(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["data"][0]["attributes"].update(contact_information=value)


@pytest.mark.parametrize("path, spoil", [
    ("/api/accounts", set_account_member("attributes", ["contact_information"])),
    ("/api/accounts", set_account_member("attributes", "Haven Prints")),
    ("/api/accounts", set_contact_information("Haven Prints")),
    ("/api/lists", lambda body: body.update(links="https://a.klaviyo.com/api/lists/?page=2")),
    ("/api/lists", lambda body: body.update(links=[None])),
], ids=["attributes_list", "attributes_text", "contact_text", "links_text", "links_list"])
def test_klaviyo_member_that_is_not_an_object_is_unavailable(klaviyo_settings, spoiled_klaviyo, path, spoil):
    spoiled_klaviyo(path, spoil)
    with pytest.raises(ProviderUnavailable, match="is not an object") as raised:
        klaviyo.check_key(klaviyo_settings, KLAVIYO_KEY)
    assert KLAVIYO_KEY not in str(raised.value) and "Haven" not in str(raised.value)


def test_klaviyo_absent_or_null_members_still_connect(klaviyo_settings, spoiled_klaviyo):
    spoiled_klaviyo("/api/accounts", set_account_member("attributes", None))
    assert klaviyo.check_key(klaviyo_settings, KLAVIYO_KEY) == {
        "account_id": "AbC123", "account_name": None, "list_count": 23}


@pytest.mark.parametrize("errors", [{"code": "not_authenticated"}, "refused", [], ["refused"]])
def test_klaviyo_refusal_with_odd_errors_is_still_an_invalid_key(klaviyo_settings, httpserver, errors):
    httpserver.expect_request("/api/accounts").respond_with_json({"errors": errors}, status=401)
    with pytest.raises(ProviderAuthError, match="401 not_authenticated"):
        klaviyo.check_key(klaviyo_settings, KLAVIYO_KEY)
