"""`noop`: does nothing and succeeds. For smoke tests, benchmarks and checking a worker is alive."""
from __future__ import annotations

from ..config import Settings
from .registry import Job, Registry


def run_noop(job: Job) -> None:
    return None


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("noop", run_noop)
