"""The composition root: settings, the database, the token verifier and the provider catalog
become one `Services`, and every blueprint (the platform's, then each provider's) is registered.

Only the entry points (`haven serve` through service/server.py, and tests) import this module;
blueprints reach the services through service/context.py.
"""
from __future__ import annotations

from flask import Flask

from . import providers
from .console.pages import BLUEPRINTS as CONSOLE_BLUEPRINTS
from .auth import TokenVerifier
from .config import Settings
from .context import Services
from .db import Database, resolve_database_url
from .errors import register_error_handlers
from .logs import configure_logging, log_requests
from .exports.routes import bp as exports_bp
from .exports.schedule_routes import bp as export_schedules_bp
from .integrations.routes import bp as integrations_bp
from .metrics import bp as metrics_bp
from .queue.routes import bp as errors_bp
from .setup.routes import bp as setup_bp
from .system import bp as system_bp

PLATFORM_BLUEPRINTS = (system_bp, metrics_bp, integrations_bp, setup_bp, exports_bp, export_schedules_bp, errors_bp,
                       *CONSOLE_BLUEPRINTS)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    app = Flask(__name__)
    log_requests(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Werkzeug enforces it on Content-Length and on chunked bodies alike, before anything reads them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    db = database or Database(resolve_database_url(settings), min_size=settings.db_pool_min,
                              max_size=settings.db_pool_max)
    catalog = providers.catalog()
    app.extensions["haven"] = Services(settings=settings, db=db, verifier=TokenVerifier(settings), providers=catalog)
    for blueprint in (*PLATFORM_BLUEPRINTS, *catalog.blueprints()):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
