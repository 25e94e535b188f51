"""Runs the app under gunicorn, as production does.

Threaded workers (`gthread`): a request that streams (exports) keeps its thread while the
worker's main loop keeps heart-beating, so a long download is not killed at the timeout the
way a sync worker's would be.
"""
from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Settings


class HavenServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": settings.web_workers,
            "worker_class": "gthread",
            # The kernel spreads new connections evenly over the workers (SO_REUSEPORT).
            "reuse_port": True,
            "threads": settings.web_threads,
            "timeout": 60,
            "graceful_timeout": 30,
            "accesslog": "-",
            "loglevel": settings.log_level.lower(),
            # Query strings can carry OAuth codes; log the path only.
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .app import create_app

        return create_app(self.settings)
