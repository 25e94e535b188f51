"""Every console blueprint, one per area, for the composition root (service/app.py) to register."""
from __future__ import annotations

from .auth_pages import bp as auth_bp

BLUEPRINTS = (auth_bp,)
