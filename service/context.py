"""What a request needs beyond itself, and where it finds it: the leaf every blueprint imports.

`create_app()` (service/app.py, the composition root) builds one `Services` per app; blueprints
and helpers reach it through `services()`, never by importing the app factory, so no module of
the service imports back into the module that registers it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from .config import Settings
from .db import Database
from .integrations.catalog import Catalog

if TYPE_CHECKING:  # auth reads the verifier from here: a run-time import would be a circle
    from .auth import TokenVerifier


@dataclass
class Services:
    """Created once per app (no module-level state)."""

    settings: Settings
    db: Database
    verifier: TokenVerifier
    providers: Catalog


def services() -> Services:
    """The current app's services (inside a request or an app context)."""
    return current_app.extensions["haven"]  # type: ignore[no-any-return]
