"""Pinterest: the API v5 client (client.py), OAuth with continuous refresh tokens and the sync
route (oauth.py), boards and pins through the queue (routes.py), and the worker jobs (jobs.py).
See docs/pinterest.md."""
from __future__ import annotations

from ...integrations.catalog import Provider
from . import jobs, oauth, routes
from .client import NAME

PROVIDER = Provider(
    name=NAME, label="Pinterest", description="Publish pins, manage boards, and track analytics",
    icon="pinterest", auth_type="oauth", required=True, setup_order=2,
    docs_url="https://docs.havenhold.com/integrations/pinterest",
    configured=oauth.configured, start_install=oauth.begin_install,
    confirm_install=oauth.confirm_install, blueprints=(routes.bp,), refresher=oauth.refresher,
    on_disconnect=jobs.delete_synced_boards, register_jobs=jobs.register)
