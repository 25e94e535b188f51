"""Sky Pilot has no public API to check a key against: the key's format is checked, nothing more,
and the metadata says so (`validated: "format_only"`)."""
from __future__ import annotations

import re
from typing import Any

from ..config import Settings
from ..errors import ProviderAuthError
from ..integrations.catalog import Provider

NAME = "sky_pilot"

KEY_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{15,255}")


def check_key(settings: Settings, api_key: str) -> dict[str, Any]:
    del settings
    if not KEY_FORMAT.fullmatch(api_key):
        raise ProviderAuthError(NAME,
                                "that does not look like a Sky Pilot key (16-256 letters, digits, '_', '.', '-')")
    return {"connected": True, "validated": "format_only"}


# Optional; the plan's setup wizard has no step for it.
PROVIDER = Provider(
    name=NAME, label="Sky Pilot", description="Digital product delivery for Shopify", icon="sky_pilot",
    auth_type="api_key", required=False, setup_order=6, docs_url="https://docs.havenhold.com/integrations/sky-pilot",
    wizard_step=False, check_key=check_key)
