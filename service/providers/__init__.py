"""Everything that names one third party: one module or folder per provider, each declaring its
`PROVIDER` (service/integrations/catalog.py says what a declaration holds), and the one list of
them. Only the composition roots (service/app.py and the worker command) import this package;
the platform reads the catalog they build. Adding a provider is a new module here plus one entry
below (and its name in SQL's `integration_providers()`: a test holds them equal)."""
from __future__ import annotations

from ..integrations.catalog import Catalog
from . import dynamic_mockups, klaviyo, pinterest, resend, shopify, sky_pilot


def catalog() -> Catalog:
    """Every provider this service connects to."""
    return Catalog((shopify.PROVIDER, pinterest.PROVIDER, klaviyo.PROVIDER, dynamic_mockups.PROVIDER,
                    resend.PROVIDER, sky_pilot.PROVIDER))
