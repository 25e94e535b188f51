"""The handler families every worker loads: the platform's, then each provider's."""
from __future__ import annotations

import importlib
from collections.abc import Iterable

from .. import limits, vault
from ..config import Settings
from ..exports import orphans, scheduled
from ..integrations import tokens
from ..integrations.catalog import Catalog, JobFamily
from . import maintenance, noop
from .registry import Registry

PLATFORM_FAMILIES: tuple[JobFamily, ...] = (
    maintenance.register, noop.register, limits.register, scheduled.register, orphans.register, tokens.register,
    vault.register)


def build_registry(settings: Settings, providers: Catalog, extra_families: Iterable[str] = ()) -> Registry:
    """A registry with every family's handlers and periodic jobs, plus `extra_families`: names of
    modules with a `register(registry, settings)` (`haven worker --family`, e.g. tests')."""
    registry = Registry()
    families = [*PLATFORM_FAMILIES, *providers.job_families(),
                *(importlib.import_module(name).register for name in extra_families)]
    for register in families:
        register(registry, settings)
    return registry
