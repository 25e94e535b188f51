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
from datetime import datetime
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


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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
          response=WebhookReceipt, auth=False, errors=(400, 401), tags=("webhooks",))
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
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except ValueError:
        raise BadRequest("the webhook body is not JSON", code="invalid_webhook") from None
    triggered_at = _timestamp(request.headers.get("X-Shopify-Triggered-At"))
    delivery = {"webhook_id": webhook_id, "topic": topic, "shop_domain": shop,
                "event_id": request.headers.get("X-Shopify-Event-Id"),
                "triggered_at": triggered_at.isoformat() if triggered_at else None,
                "api_version": request.headers.get("X-Shopify-API-Version")}
    try:
        status = _inbox().accept(delivery, text)
    except DeliveryRefused as exc:
        raise BadRequest(f"the webhook body cannot be stored: {exc}", code="invalid_webhook") from None
    return WebhookReceipt(status=status)
