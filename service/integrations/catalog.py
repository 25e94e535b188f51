"""What Haven Hub connects to: the plan's INTEGRATION_CONFIGS, in setup order."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import BadRequest

AuthType = Literal["oauth", "api_key"]


@dataclass(frozen=True)
class IntegrationConfig:
    provider: str
    name: str
    description: str
    icon: str
    auth_type: AuthType
    required: bool
    setup_order: int
    docs_url: str


INTEGRATION_CONFIGS: tuple[IntegrationConfig, ...] = (
    IntegrationConfig("shopify", "Shopify", "Connect your store for products, orders, and customer data",
                      "shopify", "oauth", True, 1, "https://docs.havenhold.com/integrations/shopify"),
    IntegrationConfig("pinterest", "Pinterest", "Publish pins, manage boards, and track analytics",
                      "pinterest", "oauth", True, 2, "https://docs.havenhold.com/integrations/pinterest"),
    IntegrationConfig("klaviyo", "Klaviyo", "Email marketing, flows, and customer segments",
                      "klaviyo", "api_key", True, 3, "https://docs.havenhold.com/integrations/klaviyo"),
    IntegrationConfig("dynamic_mockups", "Dynamic Mockups", "Generate product mockups automatically",
                      "dynamic_mockups", "api_key", True, 4,
                      "https://docs.havenhold.com/integrations/dynamic-mockups"),
    IntegrationConfig("resend", "Resend", "Transactional emails and notifications",
                      "resend", "api_key", False, 5, "https://docs.havenhold.com/integrations/resend"),
    IntegrationConfig("sky_pilot", "Sky Pilot", "Digital product delivery for Shopify",
                      "sky_pilot", "api_key", False, 6, "https://docs.havenhold.com/integrations/sky-pilot"),
)

CONFIG_BY_PROVIDER = {config.provider: config for config in INTEGRATION_CONFIGS}


def config_for(provider: str) -> IntegrationConfig:
    """The provider's config, or a 400 naming the providers there are."""
    config = CONFIG_BY_PROVIDER.get(provider)
    if config is None:
        raise BadRequest(f"unknown provider {provider!r}; the providers are "
                         + ", ".join(CONFIG_BY_PROVIDER), code="unknown_provider")
    return config


def api_key_config_for(provider: str) -> IntegrationConfig:
    """The config of an API-key provider, or a 400 (unknown, or connected through OAuth)."""
    config = config_for(provider)
    if config.auth_type != "api_key":
        raise BadRequest(f"{config.name} connects through OAuth: start at /api/integrations/{provider}/install",
                         code="oauth_provider")
    return config
