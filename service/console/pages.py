"""Every console blueprint, one per area, for the composition root (service/app.py) to register."""
from __future__ import annotations

from .auth_pages import bp as auth_bp
from .data_page import bp as data_bp
from .failed_page import bp as failed_bp
from .integrations_page import bp as integrations_bp
from .reference_page import bp as reference_bp
from .wizard import bp as wizard_bp

BLUEPRINTS = (auth_bp, wizard_bp, integrations_bp, failed_bp, data_bp, reference_bp)
