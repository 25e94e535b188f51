"""Provider-side clean-up when a user disconnects an integration.

`provider_cleanup` is called by DELETE /api/integrations/<provider> inside the disconnect
transaction, after the row is locked and before the credentials would be deleted. The API-key
providers (Klaviyo, Resend, Dynamic Mockups, Sky Pilot) keep no state of ours. Shopify holds
webhook subscriptions that only its access token can delete, so its clean-up is a queued
operation that deletes them and then the credentials; it queues the shop domain, never a token.
Pinterest's synced boards are deleted with the connection.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg


def provider_cleanup(conn: psycopg.Connection[Any], user_id: str, provider: str,
                     integration: Mapping[str, Any]) -> bool:
    """Queues what the provider must undo on its side; True when that job deletes the credentials."""
    if provider == "shopify":
        from .shopify import queue_disconnect_cleanup

        return queue_disconnect_cleanup(conn, user_id, integration)
    if provider == "pinterest":
        from .pinterest import delete_synced_boards

        delete_synced_boards(conn, user_id)
    return False
