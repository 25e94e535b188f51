"""Request bodies are capped (HAVEN_MAX_REQUEST_BYTES) before anything reads them whole."""
from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.app import create_app
from service.config import Settings

from .support.shopify import HOOK, ORDER, SHOP, connect, counts

LIMIT = 64 * 1024


@pytest.fixture
def limited_client(shop_settings, db) -> FlaskClient:  # type: ignore[no-untyped-def]
    app = create_app(replace(shop_settings, max_request_bytes=LIMIT), database=db)
    app.testing = True
    return app.test_client()


@pytest.fixture
def connected(limited_client, fake, user):  # type: ignore[no-untyped-def]
    connect(limited_client, fake, user)
    return user


def order_of_size(size: int) -> dict[str, Any]:
    """A valid order whose JSON body is exactly `size` bytes (padding in a note)."""
    order = dict(ORDER, note="")
    base = len(json.dumps(order).encode())
    return dict(order, note="x" * (size - base))


def signed(fake, size: int, webhook_id: str) -> tuple[bytes, dict[str, str]]:  # type: ignore[no-untyped-def]
    body, headers = fake.signed_webhook("orders/create", SHOP, order_of_size(size), webhook_id=webhook_id)
    assert len(body) == size
    return body, headers


def test_a_webhook_at_the_limit_is_accepted(limited_client, fake, connected, database_url):
    body, headers = signed(fake, LIMIT, "wh-at-limit")
    response = limited_client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 200 and response.json == {"status": "accepted"}
    assert counts(database_url) == (1, 1)


def test_a_webhook_over_the_limit_is_413_json_and_stores_nothing(limited_client, fake, connected, database_url):
    # Correctly signed, so only the size can be what refuses it.
    body, headers = signed(fake, LIMIT + 1, "wh-over-limit")
    response = limited_client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 413 and response.is_json
    assert response.json["error"] == "request_entity_too_large"
    assert str(LIMIT) in response.json["message"]
    assert counts(database_url) == (0, 0)


def test_a_chunked_body_without_content_length_is_capped_too(limited_client, fake, connected, database_url):
    # gunicorn passes a chunked body with no Content-Length and wsgi.input_terminated set.
    body, headers = signed(fake, LIMIT + 1, "wh-chunked")
    response = limited_client.post(HOOK, input_stream=io.BytesIO(body), headers=headers,
                                   environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and response.is_json
    assert response.json["error"] == "request_entity_too_large"
    assert counts(database_url) == (0, 0)


def test_an_oversized_json_body_to_an_authenticated_route_is_413(limited_client, user):
    response = limited_client.put("/api/settings/design-rules", data=b'{"use_defaults": true' + b" " * LIMIT + b"}",
                                  headers=user.headers | {"Content-Type": "application/json"})
    assert response.status_code == 413 and response.is_json
    assert response.json["error"] == "request_entity_too_large"
    settings = limited_client.get("/api/settings", headers=user.headers).json
    assert settings["progress"]["setup_progress"]["design_rules"] == "pending"


def test_the_limit_is_a_setting_whose_default_leaves_room_for_a_large_order_webhook(tmp_path):
    # A Shopify order with hundreds of line items is a few hundred KB.
    assert Settings().max_request_bytes >= 2 * 1024 * 1024
    configured = Settings.from_env(environ={"HAVEN_MAX_REQUEST_BYTES": "1234"}, env_file=tmp_path / "absent.env")
    assert configured.max_request_bytes == 1234
