"""What a worker can run: handlers by `operation_type`, and periodic jobs.

Each operation family is a module with `register(registry, settings)`; adding a handler or a
periodic job is one line there, and the family's module name one line in `families.py`:

    def register(registry: Registry, settings: Settings) -> None:
        registry.handler("pinterest.sync_boards", sync_boards)
        registry.periodic("tokens.refresh", every_seconds=300, run=refresh_due_tokens)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..db import Database


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (bad input, revoked access): fails the item now."""


@dataclass(frozen=True)
class WorkerContext:
    """What handlers and periodic jobs may use: the settings and a service-role connection pool."""

    settings: Settings
    db: Database


@dataclass(frozen=True)
class Job:
    """One claimed item, as its handler sees it: its own user and payload, nothing of anyone else's."""

    id: str
    user_id: str
    operation_type: str
    payload: Mapping[str, Any]
    attempt: int
    max_attempts: int
    context: WorkerContext


Handler = Callable[[Job], None]
PeriodicRun = Callable[[WorkerContext], None]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: PeriodicRun


@dataclass
class Registry:
    handlers: dict[str, Handler] = field(default_factory=dict)
    periodic_jobs: dict[str, PeriodicJob] = field(default_factory=dict)

    def handler(self, operation_type: str, run: Handler) -> None:
        """Runs items of `operation_type`. Handlers must be idempotent: an attempt may be cut short."""
        if operation_type in self.handlers:
            raise ValueError(f"two handlers for operation_type {operation_type!r}")
        self.handlers[operation_type] = run

    def periodic(self, name: str, every_seconds: float, run: PeriodicRun) -> None:
        """Runs `run` once every `every_seconds` across all workers (claimed in periodic_jobs)."""
        if name in self.periodic_jobs:
            raise ValueError(f"two periodic jobs named {name!r}")
        if every_seconds <= 0:
            raise ValueError(f"periodic job {name!r}: every_seconds must be positive")
        self.periodic_jobs[name] = PeriodicJob(name, every_seconds, run)
