"""The handler families every worker loads. Another family is one more module name here."""
from __future__ import annotations

import importlib
from collections.abc import Iterable

from ..config import Settings
from .registry import Registry

FAMILIES: tuple[str, ...] = (
    "service.exports.scheduled",
    "service.exports.orphans",
    "service.queue.maintenance",
    "service.queue.noop",
    "service.integrations.tokens",
    "service.integrations.shopify",
    "service.integrations.pinterest",
    "service.webhooks.shopify_jobs",
)


def build_registry(settings: Settings, extra_families: Iterable[str] = ()) -> Registry:
    """A registry with every family's handlers and periodic jobs (plus `extra_families`, e.g. tests')."""
    registry = Registry()
    for module_name in (*FAMILIES, *extra_families):
        importlib.import_module(module_name).register(registry, settings)
    return registry
