"""Provider-side clean-up when a user disconnects an integration.

`provider_cleanup` is called by DELETE /api/integrations/<provider> inside the disconnect
transaction, after the row is locked and BEFORE the credentials are deleted. Today no provider
needs anything here: the API-key providers (Klaviyo, Resend, Dynamic Mockups, Sky Pilot) keep no
state of ours. Shopify will queue the deletion of its webhook subscriptions here as a retry-queue
operation once that queue lands (issue 6); it must queue ids and the shop domain, never a token.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg


def provider_cleanup(conn: psycopg.Connection[Any], user_id: str, provider: str,
                     integration: Mapping[str, Any]) -> None:
    """Queues whatever the provider must undo on its side. Nothing yet (see the module doc)."""
    del conn, user_id, provider, integration
