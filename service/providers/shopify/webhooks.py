"""POST /api/webhooks/shopify: verify, record, queue, answer — well inside Shopify's 5 seconds.

The HMAC is checked over the raw body before anything else is read; a mismatch is a 401 that
stores nothing (Shopify's compliance checks expect exactly that). A verified delivery costs one
share of one statement (service/providers/shopify/inbox.py batches concurrent deliveries into one commit):
`accept_shopify_webhooks` finds the shop's owner, records the delivery once (by
X-Shopify-Webhook-Id) and queues its processing; the answer waits for that commit.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Literal

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel

from ...api import endpoint
from ...context import services
from ...errors import ApiError, BadRequest, Unauthorized
from ...metrics import counter
from .client import normalise_shop, verify_webhook_hmac
from .inbox import DeliveryBatcher, DeliveryRefused

bp = Blueprint("shopify_webhooks", __name__)
INBOX = "haven.shopify_inbox"
# No time zone is further from UTC than 14 hours; Shopify sends UTC (Z).
MAX_UTC_OFFSET = timedelta(hours=14)
MIN_TRIGGERED_YEAR = 2000


@bp.record_once
def _open_inbox(state: BlueprintSetupState) -> None:
    """One inbox per app, beside the app's services (no module-level state)."""
    state.app.extensions[INBOX] = DeliveryBatcher(state.app.extensions["haven"].db)


def _inbox() -> DeliveryBatcher:
    return current_app.extensions[INBOX]  # type: ignore[no-any-return]


class WebhookReceipt(BaseModel):
    status: Literal["accepted", "duplicate", "unknown_shop"]


def _signed_by_us(body: bytes, signature: str | None) -> bool:
    settings = services().settings
    # During a secret rotation Shopify signs with the oldest unrevoked secret: accept both.
    secrets = [s for s in (settings.shopify_client_secret, settings.shopify_previous_client_secret) if s]
    return any(verify_webhook_hmac(body, signature, secret) for secret in secrets)


def _triggered_at(value: str | None) -> str | None:
    """X-Shopify-Triggered-At as an ISO 8601 instant in UTC, or None when absent.

    Checked here, so a value Postgres cannot hold (an offset past 15:59) never reaches the batch
    it would fail: a header that is not a date-time Shopify could send (an offset no time zone
    has, a year before 2000) is a 400 for that delivery alone.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        offset = parsed.utcoffset()
        if offset is None:
            parsed, offset = parsed.replace(tzinfo=timezone.utc), timedelta(0)
        instant = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        instant, offset = None, None
    if instant is None or offset is None or abs(offset) > MAX_UTC_OFFSET or instant.year < MIN_TRIGGERED_YEAR:
        raise BadRequest("X-Shopify-Triggered-At is not an ISO 8601 date-time of this century with a real UTC"
                         " offset (within ±14:00)", code="invalid_webhook")
    return instant.isoformat()


def _json_text(body: bytes) -> str:
    """The body as JSON text, or a 400. Nesting too deep for the parser (a RecursionError: its
    limit is far past any real payload, and json's C parser stops there without crashing) is
    refused like any other body that is not JSON."""
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except ValueError:
        raise BadRequest("the webhook body is not JSON", code="invalid_webhook") from None
    except RecursionError:
        raise BadRequest("the webhook body is nested too deeply", code="invalid_webhook") from None
    return text


def _counted(view: Callable[[], WebhookReceipt]) -> Callable[[], WebhookReceipt]:
    """Counts every answer by outcome (accepted, duplicate, unknown_shop, or the refusal's code):
    refusals never reach the database, so /metrics could not count them there."""

    @wraps(view)
    def counting() -> WebhookReceipt:
        answers = counter("haven_webhook_answers", "Shopify deliveries answered, by outcome", ["outcome"])
        try:
            receipt = view()
        except ApiError as refused:
            answers.labels(outcome=refused.code).inc()
            raise
        answers.labels(outcome=receipt.status).inc()
        return receipt

    return counting


@bp.post("/api/webhooks/shopify")
@endpoint("Receive a Shopify webhook delivery (HMAC-verified, idempotent on X-Shopify-Webhook-Id)",
          response=WebhookReceipt, auth=False, errors=(400, 401, 413), tags=("webhooks",))
@_counted
def receive() -> WebhookReceipt:
    body = request.get_data(cache=False)
    if not _signed_by_us(body, request.headers.get("X-Shopify-Hmac-Sha256")):
        raise Unauthorized("the webhook signature does not match", code="invalid_hmac")
    topic = (request.headers.get("X-Shopify-Topic") or "").strip()
    shop = normalise_shop(request.headers.get("X-Shopify-Shop-Domain"))
    webhook_id = (request.headers.get("X-Shopify-Webhook-Id") or "").strip()
    if not topic or not webhook_id or shop is None:
        raise BadRequest("X-Shopify-Topic, X-Shopify-Webhook-Id and a *.myshopify.com "
                         "X-Shopify-Shop-Domain are required", code="invalid_webhook")
    text = _json_text(body)
    delivery = {"webhook_id": webhook_id, "topic": topic, "shop_domain": shop,
                "event_id": request.headers.get("X-Shopify-Event-Id"),
                "triggered_at": _triggered_at(request.headers.get("X-Shopify-Triggered-At")),
                "api_version": request.headers.get("X-Shopify-API-Version")}
    try:
        status = _inbox().accept(delivery, text)
    except DeliveryRefused as exc:
        raise BadRequest(f"the webhook body cannot be stored: {exc}", code="invalid_webhook") from None
    return WebhookReceipt(status=status)
