"""One provider registry: the catalog every part reads, held equal to what SQL names."""
from __future__ import annotations

import pytest

from service import providers
from service.integrations.catalog import Catalog, Provider
from service.setup.progress import wizard_steps

STEPS = ["shopify", "pinterest", "klaviyo", "dynamic_mockups", "resend", "design_rules", "operator_mode", "import"]


def test_the_registry_the_wizard_and_sql_name_the_same_providers_in_the_same_order(db):
    catalog = providers.catalog()
    with db.as_service() as conn:
        row = conn.execute("select public.integration_providers() as providers, public.setup_steps() as steps"
                           ).fetchone()
    assert sorted(catalog.names) == sorted(row["providers"])
    assert [step.key for step in wizard_steps(catalog)] == row["steps"] == STEPS
    # SQL's steps start with the providers the wizard connects, in setup order.
    assert [p.name for p in catalog.wizard_providers()] == row["steps"][:len(catalog.wizard_providers())]


def test_every_hook_the_platform_calls_comes_from_the_registry(settings):
    catalog = providers.catalog()
    assert [p.name for p in catalog if p.auth_type == "api_key"] == ["klaviyo", "dynamic_mockups", "resend",
                                                                     "sky_pilot"]
    assert all(p.check_key is not None for p in catalog if p.auth_type == "api_key")
    assert {bp.name for bp in catalog.blueprints()} == {"shopify", "shopify_webhooks", "shopify_admin", "shopify_import",
                                                        "pinterest"}
    assert [p.name for p in catalog if p.lists is not None] == ["klaviyo"]
    assert [p.name for p in catalog if p.data_import is not None] == ["shopify"]
    assert catalog.mailer() is not None and catalog.mailer()[0].name == "resend"
    assert catalog.refreshers(settings) == []  # no app credentials in these settings


def test_a_provider_declared_twice_or_half_declared_is_refused():
    shopify = providers.catalog().named("shopify")
    with pytest.raises(ValueError, match="declared twice"):
        Catalog([shopify, shopify])
    with pytest.raises(ValueError, match="lists are read with an API key"):
        Provider(name="x", label="X", description="", icon="x", auth_type="oauth", required=False,
                 setup_order=9, docs_url="https://example.test", start_install=lambda *a: "",
                 confirm_install=lambda *a: None, lists=lambda settings, key: [])
    with pytest.raises(ValueError, match="check_key"):
        Provider(name="x", label="X", description="", icon="x", auth_type="api_key", required=False,
                 setup_order=9, docs_url="https://example.test")
