"""Where OAuth flows send the browser: the provider's callback here, then the front end."""
from __future__ import annotations

from urllib.parse import urlencode

from ..config import Settings


def callback_url(settings: Settings, provider: str) -> str:
    """The redirect URI registered with the provider (on this service's public URL)."""
    return f"{settings.public_url.rstrip('/')}/api/integrations/{provider}/callback"


def front_end(settings: Settings, **outcome: str) -> str:
    """The front end's integrations page, with `success=` or `error=` (a code, never a secret)."""
    return f"{settings.app_url.rstrip('/')}/dashboard/settings/integrations?{urlencode(outcome)}"
