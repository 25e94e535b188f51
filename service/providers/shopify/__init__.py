"""Shopify: the GraphQL Admin API client (client.py), OAuth with expiring offline tokens
(oauth.py), the webhook receiver (webhooks.py) and its group-commit inbox (inbox.py), the
worker jobs (jobs.py), products, customers and the shop's time zone (admin.py), and the initial
import through Bulk Operations (imports.py). See docs/shopify.md."""
from __future__ import annotations

from ...integrations.catalog import DataImport, Provider
from . import admin, imports, jobs, oauth, webhooks
from .client import NAME

PROVIDER = Provider(
    name=NAME, label="Shopify", description="Connect your store for products, orders, and customer data",
    icon="shopify", auth_type="oauth", required=True, setup_order=1,
    docs_url="https://docs.havenhold.com/integrations/shopify",
    configured=oauth.configured, start_install=oauth.begin_install,
    confirm_install=oauth.confirm_install, blueprints=(oauth.bp, webhooks.bp, admin.bp, imports.bp),
    refresher=oauth.refresher, on_disconnect=jobs.queue_disconnect_cleanup, register_jobs=jobs.register,
    data_import=DataImport("your shop's orders, customers, products and collections", imports.start_import,
                           imports.import_status))
