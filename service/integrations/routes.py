"""/api/integrations: the catalog merged with the caller's connections; connecting an API-key
provider (the key is checked live before anything is stored); disconnecting; the account's lists
and the chosen default list, for providers that have lists (Klaviyo)."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Literal

from flask import Blueprint
from pydantic import BaseModel, Field, RootModel, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from ..api import ADDRESS_PATTERN, Strict, endpoint
from ..auth import Caller
from ..context import services
from .. import vault
from ..errors import BadRequest, Conflict, NotFound, ProviderAuthError, ProviderUnavailable, UpstreamError
from . import records
from .catalog import Provider

log = logging.getLogger(__name__)
bp = Blueprint("integrations", __name__)
TAGS = ("integrations",)


class IntegrationView(BaseModel):
    """One provider as the caller sees it: the catalog entry and the caller's connection (if any)."""

    provider: str
    name: str
    description: str
    icon: str
    auth_type: Literal["oauth", "api_key"]
    required: bool
    setup_order: int
    docs_url: str
    status: Literal["disconnected", "connecting", "connected", "error", "expired"]
    connected: bool
    metadata: dict[str, Any]
    last_error: str | None = None
    last_error_at: datetime | None = None
    token_expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None


class IntegrationList(RootModel[list[IntegrationView]]):
    """Every provider, in setup order."""


# An API key travels in an HTTP header, which carries Latin-1 at most (requests refuses anything
# else with an error of its own), and no provider issues keys outside visible ASCII.
API_KEY_PATTERN = r"^[!-~]+$"


class ConnectRequest(Strict):
    api_key: SecretStr = Field(min_length=1, max_length=2000, json_schema_extra={"pattern": API_KEY_PATTERN},
                               description="the provider's API key: visible ASCII characters (U+0021-U+007E)")
    from_email: str | None = Field(default=None, max_length=254, pattern=ADDRESS_PATTERN,
                                   description="Resend only: the address emails are sent from")

    @field_validator("api_key")
    @classmethod
    def _visible_ascii(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if not re.fullmatch(API_KEY_PATTERN, key):
            # Never echo the key: the problem names the rule, not the character.
            raise PydanticCustomError("api_key_characters",
                                      "must hold visible ASCII characters only (U+0021-U+007E), as API keys do,"
                                      " with no spaces around it")
        return value


def view(provider: Provider, row: dict[str, Any] | None) -> IntegrationView:
    row = row or {}
    status = row.get("status", "disconnected")
    return IntegrationView(
        provider=provider.name, name=provider.label, description=provider.description, icon=provider.icon,
        auth_type=provider.auth_type, required=provider.required, setup_order=provider.setup_order,
        docs_url=provider.docs_url, status=status, connected=status == "connected",
        metadata=row.get("metadata") or {},
        **{key: row.get(key) for key in ("last_error", "last_error_at", "token_expires_at",
                                         "last_refreshed_at", "connected_at", "disconnected_at")},
    )


@bp.get("/api/integrations")
@endpoint("Every provider, in setup order, with the caller's connection status", response=IntegrationList,
          tags=TAGS)
def list_integrations(caller: Caller) -> IntegrationList:
    return IntegrationList(integration_views(caller))


def integration_views(caller: Caller) -> list[IntegrationView]:
    """Every provider with the caller's connection, read as the caller (the API and the console)."""
    with services().db.as_user(caller.claims) as conn:
        rows = {row["provider"]: row for row in conn.execute(
            f"select {records.PUBLIC_COLUMNS} from public.integrations").fetchall()}
    return [view(provider, rows.get(provider.name)) for provider in services().providers]


def _api_key_providers() -> list[str]:
    return [p.name for p in services().providers if p.auth_type == "api_key"]


def _providers() -> list[str]:
    return list(services().providers.names)


@bp.post("/api/integrations/<provider>/connect")
@endpoint("Connect an API-key provider: check the key live, then store it in Vault", body=ConnectRequest,
          response=IntegrationView, errors=(502,), tags=TAGS, path={"provider": _api_key_providers},
          description="400 `invalid_api_key` when the provider refuses the key (the integration is marked "
                      "`error`, nothing is stored; Sky Pilot, which has no API to ask, refuses a key that is "
                      "not 16-256 letters, digits, '_', '.' or '-'); 400 `invalid_request` for from_email with "
                      "another provider than Resend; 400 `unknown_provider` / `oauth_provider`; 502 "
                      "`upstream_unavailable` when the provider cannot confirm it (nothing changes).")
def connect(provider: str, caller: Caller, body: ConnectRequest) -> IntegrationView:
    return connect_api_key(caller, provider, body)


def connect_api_key(caller: Caller, provider: str, body: ConnectRequest) -> IntegrationView:
    """Checks the key live, then stores it (the API's connect and the console's key forms)."""
    declared = services().providers.api_key_provider(provider)
    assert declared.check_key is not None  # every API-key provider declares one
    api_key = body.api_key.get_secret_value()  # checked by ConnectRequest
    if body.from_email is not None and provider != "resend":
        raise BadRequest("from_email applies to Resend only", code="invalid_request")
    db = services().db
    try:
        metadata = declared.check_key(services().settings, api_key)
    except ProviderAuthError as rejected:
        with db.as_service() as conn:
            records.mark_error(conn, caller.user_id, provider, rejected.reason, keep_connected=True)
        log.info("%s refused a key for user %s: %s", declared.label, caller.user_id, rejected.reason)
        raise BadRequest(rejected.reason, code="invalid_api_key") from None
    except ProviderUnavailable as down:
        log.warning("%s could not check a key for user %s: %s", declared.label, caller.user_id, down.reason)
        raise UpstreamError(f"{declared.label} could not confirm the key: {down.reason}") from None
    if provider == "resend":
        metadata["from_email"] = body.from_email
    with db.as_service() as conn:
        row = records.mark_connected(conn, caller.user_id, provider, metadata=metadata,
                                     credentials={"api_key": api_key})
    log.info("%s connected for user %s", declared.label, caller.user_id)
    return view(declared, row)


@bp.delete("/api/integrations/<provider>")
@endpoint("Disconnect a provider: delete its credentials and mark it disconnected", response=IntegrationView,
          errors=(404,), tags=TAGS, path={"provider": _providers},
          description="404 `not_connected` when the caller has no connection to it; 400 `unknown_provider`.")
def disconnect(provider: str, caller: Caller) -> IntegrationView:
    return disconnect_provider(caller, provider)


def disconnect_provider(caller: Caller, provider: str) -> IntegrationView:
    """Deletes the credentials (or queues the provider's clean-up) and marks it disconnected."""
    declared = services().providers.named(provider)
    with services().db.as_service() as conn:
        current = records.lock(conn, caller.user_id, provider)
        if current is None or current["status"] == "disconnected":
            raise NotFound(f"{declared.label} is not connected", code="not_connected")
        # The provider's own clean-up (e.g. Shopify's webhook subscriptions) is queued in this
        # transaction; when it needs the token to do it, it deletes the credentials itself.
        cleanup_owns_credentials = (declared.on_disconnect is not None
                                    and declared.on_disconnect(conn, caller.user_id, current))
        row = records.mark_disconnected(conn, caller.user_id, provider,
                                        delete_credentials=not cleanup_owns_credentials)
    log.info("%s disconnected for user %s", declared.label, caller.user_id)
    return view(declared, row)


class CredentialRead(BaseModel):
    provider: str
    credential_type: str
    reader: str = Field(description="the part of the service that read it (an operation or a route)")
    purpose: str
    found: bool
    read_at: datetime


class CredentialReadsQuery(Strict):
    limit: int = Field(50, ge=1, le=500, description="Reads per page, newest first")
    offset: int = Field(0, ge=0, le=1_000_000, description="Reads to skip")


class CredentialReads(BaseModel):
    reads: list[CredentialRead]


@bp.get("/api/integrations/credential-reads")
@endpoint("When the service read the caller's stored credentials, which part of it, and why (never the value)",
          query=CredentialReadsQuery, response=CredentialReads, tags=TAGS)
def credential_reads(caller: Caller, query: CredentialReadsQuery) -> CredentialReads:
    with services().db.as_user(caller.claims) as conn:
        rows = conn.execute(
            "select provider, credential_type, reader, purpose, found, read_at from public.credential_reads"
            " order by read_at desc, id desc limit %s offset %s", [query.limit, query.offset]).fetchall()
    return CredentialReads(reads=[CredentialRead.model_validate(row) for row in rows])


# -- lists and the default list (Klaviyo's KlaviyoMetadata.default_list_id) ----------------------

LIST_ID_PATTERN = "^[A-Za-z0-9_-]+$"


def _list_providers() -> list[str]:
    return [p.name for p in services().providers if p.lists is not None]


class ListChoice(BaseModel):
    id: str
    name: str


class ProviderLists(BaseModel):
    lists: list[ListChoice] = Field(description="every list of the connected account, in the provider's order")
    default_list_id: str | None = Field(description="the chosen default list (integration metadata), if any")


class DefaultListRequest(Strict):
    list_id: str | None = Field(min_length=1, max_length=64, pattern=LIST_ID_PATTERN,
                                description="one of the account's list ids; null clears the choice")


def account_lists(caller: Caller, provider: str) -> tuple[list[ListChoice], str | None]:
    """The connected account's lists, read live with the stored key, and the default chosen so far
    (the API and the console). 409 `not_connected`; the provider's failures map once (errors.py)."""
    declared = services().providers.named(provider)
    if declared.lists is None:
        raise BadRequest(f"{declared.label} has no lists", code="invalid_request")
    with services().db.as_service() as conn:
        row = conn.execute("select status, metadata from public.integrations where user_id = %s and provider = %s",
                           [caller.user_id, provider]).fetchone()
        if row is None or row["status"] != "connected":
            raise Conflict(f"{declared.label} is not connected", code="not_connected")
        api_key = vault.get_credential(conn, caller.user_id, provider, "api_key",
                                       reader=f"GET /api/integrations/{provider}/lists",
                                       purpose=f"list the {declared.label} account's lists")
    if not api_key:
        raise Conflict(f"{declared.label} is not connected", code="not_connected")
    choices = [ListChoice(id=list_id, name=name) for list_id, name in declared.lists(services().settings, api_key)]
    return choices, (row["metadata"] or {}).get("default_list_id")


def choose_default_list(caller: Caller, provider: str, list_id: str | None) -> IntegrationView:
    """Stores the chosen default list in the integration's metadata, if the account has it (409
    `unknown_list` otherwise: a list of another account, or one deleted since; the request is
    well formed, the account's state refuses it)."""
    declared = services().providers.named(provider)
    choices, _ = account_lists(caller, provider)
    names = {choice.id: choice.name for choice in choices}
    if list_id is not None and list_id not in names:
        raise Conflict(f"{declared.label} has no list {list_id} in this account", code="unknown_list",
                         details=[{"field": "list_id", "problem": "not one of the account's lists"}])
    with services().db.as_service() as conn:
        current = records.lock(conn, caller.user_id, provider)
        if current is None or current["status"] != "connected":  # disconnected while we asked
            raise Conflict(f"{declared.label} is not connected", code="not_connected")
        records.merge_metadata(conn, caller.user_id, provider, {
            "default_list_id": list_id, "default_list_name": names.get(list_id or ""), "list_count": len(choices)})
        records.log_activity(conn, caller.user_id, "integration_default_list_chosen",
                             {"provider": provider, "list_id": list_id})
        row = conn.execute(f"select {records.PUBLIC_COLUMNS} from public.integrations"
                           " where user_id = %s and provider = %s", [caller.user_id, provider]).fetchone()
    return view(declared, row)


@bp.get("/api/integrations/<provider>/lists")
@endpoint("The connected account's lists (Klaviyo), read live, and the chosen default", response=ProviderLists,
          errors=(409, 502), tags=TAGS, path={"provider": _list_providers},
          description="409 `not_connected`, or `reconnect_required` when the provider refuses the stored key; "
                      "502 when the provider cannot answer.")
def provider_lists(provider: str, caller: Caller) -> ProviderLists:
    choices, default = account_lists(caller, provider)
    return ProviderLists(lists=choices, default_list_id=default)


@bp.put("/api/integrations/<provider>/default-list")
@endpoint("Choose the account's default list (Klaviyo): stored as default_list_id in the metadata",
          body=DefaultListRequest, response=IntegrationView, errors=(409, 502), tags=TAGS,
          path={"provider": _list_providers},
          description="The id must be one of the account's lists, read live (else 409 `unknown_list`, nothing "
                      "changes); null clears the choice. 409 `not_connected` / `reconnect_required`; 502 when the "
                      "provider cannot answer. Replacing the key (connect) clears the choice: the new key may "
                      "belong to another account.")
def default_list(provider: str, caller: Caller, body: DefaultListRequest) -> IntegrationView:
    return choose_default_list(caller, provider, body.list_id)
