"""What a worker can run: handlers by `operation_type`, and periodic jobs.

Each operation family is a function `register(registry, settings)`; adding a handler or a
periodic job is one line there. The platform's families are listed in `families.py`; each
provider declares its own (`Provider.register_jobs`):

    def register(registry: Registry, settings: Settings) -> None:
        registry.handler("pinterest.sync_boards", sync_boards)
        registry.periodic("tokens.refresh", every_seconds=300, run=refresh_due_tokens)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..db import Database

if TYPE_CHECKING:  # the engine knows providers only as the catalog it is handed
    from ..integrations.catalog import Catalog


@dataclass(frozen=True)
class WorkerContext:
    """What handlers and periodic jobs may use: the settings, a connection pool for service-role
    work, and the provider catalog (token refreshers, the mailer)."""

    settings: Settings
    db: Database
    providers: Catalog


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
        """Runs items of `operation_type`. Handlers must be idempotent: an attempt may be cut short.

        A handler fails an item by raising; `service.errors.retryable` decides whether it is tried
        again (e.g. PermanentError and ProviderRejected are not)."""
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
