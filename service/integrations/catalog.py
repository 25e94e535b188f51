"""What Haven Hub connects to: one declared `Provider` per third party, and the `Catalog` of them.

The catalog is the one registry every part reads: app registration (blueprints), the API's
provider list (the plan's INTEGRATION_CONFIGS), API-key checks, token refreshers, disconnect
clean-up, worker job families and the wizard's connection steps. Each provider declares itself
in its own folder under `service/providers/`; `service/providers/__init__.py` lists them, and
only the composition roots (`service/app.py`, the worker command) import that list: platform
code receives the catalog through `services().providers` or `WorkerContext.providers`.
SQL's `integration_providers()` and `setup_steps()` name the same providers (a test holds them
equal).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint

from ..config import Settings
from ..errors import BadRequest
from .records import TokenSet

if TYPE_CHECKING:  # types only: the queue engine does not import the catalog at run time either
    import psycopg

    from ..queue.registry import Registry

AuthType = Literal["oauth", "api_key"]
# (settings, key) -> metadata; raises ProviderAuthError when the key is refused and
# ProviderUnavailable when the provider cannot tell.
KeyCheck = Callable[[Settings, str], dict[str, Any]]
# Called by a disconnect inside its transaction, the integration row locked; True when the
# provider's own clean-up (a queued job) deletes the credentials itself.
DisconnectHook = Callable[["psycopg.Connection[Any]", str, Mapping[str, Any]], bool]
JobFamily = Callable[["Registry", Settings], None]
# OAuth providers: (user id, the install form's fields, e.g. {"shop": …}, the console session's
# hash or None for the JSON API) -> the consent screen's URL. Raises ApiError subclasses.
StartInstall = Callable[[str, Mapping[str, str], "bytes | None"], str]
# OAuth providers: (user id, the confirmation id a held callback sent) -> None once connected,
# else the callback's error code. Raises OAuthStateError for a confirmation not the user's.
ConfirmInstall = Callable[[str, str], "str | None"]
# API-key providers whose account holds lists a default is chosen from (Klaviyo): (settings, api
# key) -> every list as (id, name), in the provider's order. Raises ProviderError subclasses.
ListsReader = Callable[[Settings, str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Refresher:
    """How one provider's expiring tokens are renewed (service/integrations/tokens.py runs it)."""

    provider: str
    name: str
    window: timedelta  # refreshed when it expires within this
    # (refresh token, the integration row) -> the new tokens; raises ProviderError subclasses.
    refresh: Callable[[str, Mapping[str, Any]], TokenSet]


@dataclass(frozen=True)
class Mailer:
    """A provider that sends email for us (scheduled exports): the API key is its credential."""

    # (settings, api key, message, idempotency key) -> the provider's email id. Raises
    # ProviderRejected when retrying cannot help and ProviderUnavailable when it may.
    send: Callable[[Settings, str, Mapping[str, Any], str], str]
    max_message_bytes: int


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class DataImport:
    """A provider's import of the data a user already holds there (the wizard's import step).

    `start(user_id)` starts one (or keeps the one running; an ApiError when it cannot start);
    `latest(claims)` is the user's latest import as the provider's API answers it, or None.
    Its `status` is running, completed or failed."""

    label: str
    start: Callable[[str], None]
    latest: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Provider:
    """One third party, declared once: what the user sees and every hook the platform calls."""

    name: str  # the key everywhere: API paths, integrations.provider, SQL integration_providers()
    label: str
    description: str
    icon: str
    auth_type: AuthType
    required: bool
    setup_order: int
    docs_url: str
    wizard_step: bool = True  # the setup wizard has a "Connect <label>" step for it
    configured: Callable[[Settings], bool] = _always  # this deployment has its app credentials
    blueprints: tuple[Blueprint, ...] = ()
    check_key: KeyCheck | None = None
    refresher: Callable[[Settings], Refresher | None] | None = None
    on_disconnect: DisconnectHook | None = None
    register_jobs: JobFamily | None = None
    mailer: Mailer | None = None
    start_install: StartInstall | None = None
    confirm_install: ConfirmInstall | None = None
    lists: ListsReader | None = None
    data_import: DataImport | None = None

    def __post_init__(self) -> None:
        if self.lists is not None and self.auth_type != "api_key":
            raise ValueError(f"{self.name}: lists are read with an API key")
        if (self.auth_type == "api_key") != (self.check_key is not None):
            raise ValueError(f"{self.name}: an API-key provider, and only one, declares check_key")
        if (self.auth_type == "oauth") != (self.start_install is not None and self.confirm_install is not None):
            raise ValueError(f"{self.name}: an OAuth provider, and only one, declares start/confirm_install")


class Catalog:
    """Every provider, in setup order."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._providers = tuple(sorted(providers, key=lambda p: p.setup_order))
        names = [p.name for p in self._providers]
        if len(set(names)) != len(names):
            raise ValueError(f"providers declared twice: {names}")
        self._by_name = {p.name: p for p in self._providers}

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def get(self, name: str) -> Provider | None:
        return self._by_name.get(name)

    def named(self, name: str) -> Provider:
        """The provider, or a 400 naming the providers there are."""
        provider = self._by_name.get(name)
        if provider is None:
            raise BadRequest(f"unknown provider {name!r}; the providers are " + ", ".join(self._by_name),
                             code="unknown_provider")
        return provider

    def api_key_provider(self, name: str) -> Provider:
        """An API-key provider, or a 400 (unknown, or connected through OAuth)."""
        provider = self.named(name)
        if provider.auth_type != "api_key":
            raise BadRequest(f"{provider.label} connects through OAuth: start at /api/integrations/{name}/install",
                             code="oauth_provider")
        return provider

    def refreshers(self, settings: Settings) -> list[Refresher]:
        """The providers whose tokens this deployment refreshes (those with app credentials set)."""
        return [r for p in self._providers if p.refresher is not None and (r := p.refresher(settings)) is not None]

    def mailer(self) -> tuple[Provider, Mailer] | None:
        return next(((p, p.mailer) for p in self._providers if p.mailer is not None), None)

    def blueprints(self) -> list[Blueprint]:
        return [blueprint for p in self._providers for blueprint in p.blueprints]

    def job_families(self) -> list[JobFamily]:
        return [p.register_jobs for p in self._providers if p.register_jobs is not None]

    def wizard_providers(self) -> tuple[Provider, ...]:
        return tuple(p for p in self._providers if p.wizard_step)
