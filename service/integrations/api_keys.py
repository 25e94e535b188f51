"""The live key check of each API-key provider: provider -> check_key(settings, key) -> metadata.

Each check raises InvalidApiKey when the provider refuses the key and ProviderUnavailable when
it cannot tell (down, 429, 5xx, timeout, an answer we cannot read).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Settings
from . import dynamic_mockups, klaviyo, resend, sky_pilot

KeyCheck = Callable[[Settings, str], dict[str, Any]]

KEY_CHECKS: dict[str, KeyCheck] = {
    "klaviyo": klaviyo.check_key,
    "resend": resend.check_key,
    "dynamic_mockups": dynamic_mockups.check_key,
    "sky_pilot": sky_pilot.check_key,
}
