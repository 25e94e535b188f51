"""The application factory: settings, shared services, blueprints, error handlers."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask

from .auth import TokenVerifier
from .config import Settings
from .db import Database, resolve_database_url
from .errors import register_error_handlers
from .webhooks.inbox import DeliveryBatcher


@dataclass
class Services:
    """What a request needs beyond itself, created once per app (no module-level state)."""

    settings: Settings
    db: Database
    verifier: TokenVerifier
    shopify_inbox: DeliveryBatcher


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Werkzeug enforces it on Content-Length and on chunked bodies alike, before anything reads them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    db = database or Database(resolve_database_url(settings), min_size=settings.db_pool_min,
                              max_size=settings.db_pool_max)
    app.extensions["haven"] = Services(settings=settings, db=db, verifier=TokenVerifier(settings),
                                       shopify_inbox=DeliveryBatcher(db))

    from .exports.routes import bp as exports_bp
    from .exports.schedule_routes import bp as export_schedules_bp
    from .integrations.routes import bp as integrations_bp
    from .queue.api import bp as errors_bp
    from .integrations.pinterest import bp as pinterest_bp
    from .integrations.shopify import bp as shopify_bp
    from .setup.routes import bp as setup_bp
    from .system import bp as system_bp
    from .webhooks.shopify import bp as shopify_webhooks_bp

    for blueprint in (system_bp, integrations_bp, shopify_bp, pinterest_bp, shopify_webhooks_bp, setup_bp,
                      exports_bp, export_schedules_bp, errors_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app


def services() -> Services:
    """The current app's services (inside a request or an app context)."""
    from flask import current_app

    return current_app.extensions["haven"]
