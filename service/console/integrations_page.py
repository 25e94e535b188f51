"""The integrations page: every provider with its status, account details, last error and token
expiry; connect, reconnect, and disconnect (confirmed on a page of its own first). The callbacks
of OAuth flows land here (APP_URL/console/integrations) and are sent on to the wizard when the
flow began there. A provider with lists (Klaviyo) has a page to choose its default list. Reads and
writes are the API's own, as the signed-in user."""
from __future__ import annotations

from flask import Response, redirect, request

from ..context import services
from ..errors import ApiError, NotFound
from ..integrations.oauth_state import OAuthStateError
from ..integrations.routes import DefaultListRequest, account_lists, choose_default_list, disconnect_provider, integration_views
from . import outcomes, sessions, web
from .wizard import RETURN_COOKIE, connect_from_form, start_install

bp = web.blueprint("console_integrations")
OUTCOME_KEYS = ("success", "error", "provider")


def _caller():  # type: ignore[no-untyped-def]
    session = sessions.current()
    assert session is not None
    return session.caller


def integrations_page(*, status: int = 200, error: str | None = None, problems: list[str] | None = None,
                      open_form: str | None = None) -> Response:
    views = integration_views(_caller())
    labels = {view.provider: view.name for view in views}
    confirm = request.args.get("confirm")
    confirm_provider = request.args.get("provider") if confirm else None
    return web.render("integrations.html", status=status, integrations=views, error=error, problems=problems or [],
                      outcome=None if error else outcomes.message(request.args, labels), confirm=confirm,
                      confirm_provider=confirm_provider, confirm_label=labels.get(confirm_provider or ""),
                      open_form=open_form,
                      configured={p.name: p.configured(services().settings) for p in services().providers},
                      list_providers={p.name for p in services().providers if p.lists is not None})


@bp.get("/console/integrations")
@web.signed_in
def integrations() -> Response:
    # An OAuth flow begun in the wizard goes back there, with its outcome.
    if request.cookies.get(RETURN_COOKIE) == "setup" and "provider" in request.args and not request.args.get("confirm"):
        query = "&".join(f"{key}={request.args[key]}" for key in OUTCOME_KEYS if request.args.get(key)
                         and request.args[key].replace("_", "").isalnum())
        response = redirect(f"/console/setup?step={request.args['provider']}&{query}", code=303)
        response.delete_cookie(RETURN_COOKIE, path="/console/")
        return response
    response = integrations_page()
    if request.cookies.get(RETURN_COOKIE):
        response.delete_cookie(RETURN_COOKIE, path="/console/")
    return response


@bp.post("/console/integrations/<provider>/connect")
@web.signed_in
def connect(provider: str) -> Response:
    refused = connect_from_form(provider)
    if refused is not None:
        return integrations_page(status=refused.status, error=refused.error, problems=refused.problems,
                                 open_form=provider)
    return redirect(f"/console/integrations?done=connected&provider={provider}", code=303)


@bp.post("/console/integrations/<provider>/install")
@web.signed_in
def install(provider: str) -> Response:
    try:
        return start_install(provider, return_to="integrations")
    except ApiError as exc:
        return integrations_page(status=exc.status, error=exc.message, open_form=provider)


@bp.get("/console/integrations/<provider>/disconnect")
@web.signed_in
def confirm_disconnect(provider: str) -> Response:
    declared = services().providers.named(provider)
    return web.render("disconnect.html", provider=declared)


@bp.post("/console/integrations/<provider>/disconnect")
@web.signed_in
def disconnect(provider: str) -> Response:
    try:
        disconnect_provider(_caller(), provider)
    except NotFound as exc:
        return integrations_page(status=404, error=exc.message)
    return redirect(f"/console/integrations?done=disconnected&provider={provider}", code=303)


@bp.post("/console/integrations/<provider>/confirm")
@web.signed_in
def confirm(provider: str) -> Response:
    """Finishes a connection begun through the JSON API: only its own user may (SQL checks)."""
    declared = services().providers.named(provider)
    if declared.confirm_install is None:
        return integrations_page(status=400, error=f"{declared.label} connects with an API key.")
    try:
        failure = declared.confirm_install(_caller().user_id, request.form.get("confirmation", ""))
    except OAuthStateError as exc:
        words = {"other_user": "This connection was started by another account, so it cannot be finished here.",
                 "used": "This connection was already finished.",
                 "expired": "This connection waited more than 10 minutes; start it again."}
        return integrations_page(status=400, error=words.get(exc.reason, "This connection is unknown; start it again."))
    if failure is not None:
        return redirect(f"/console/integrations?error={failure}&provider={provider}", code=303)
    return redirect(f"/console/integrations?done=connected&provider={provider}", code=303)


@bp.get("/console/integrations/<provider>/default-list")
@web.signed_in
def choose_list(provider: str) -> Response:
    """The account's lists, read live from the provider, with the current choice selected."""
    declared = services().providers.named(provider)
    choices, current = account_lists(_caller(), provider)
    return web.render("default_list.html", provider=declared, lists=choices, current=current)


@bp.post("/console/integrations/<provider>/default-list")
@web.signed_in
def save_list(provider: str) -> Response:
    # The same checks as PUT /api/integrations/<provider>/default-list: an id the account does
    # not have is refused there (a page that says so), and "" clears the choice.
    list_id = request.form.get("list_id", "")
    DefaultListRequest.model_validate({"list_id": list_id or None})
    choose_default_list(_caller(), provider, list_id or None)
    return redirect(f"/console/integrations?done=default_list&provider={provider}", code=303)
