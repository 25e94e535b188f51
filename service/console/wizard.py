"""The setup wizard (plan Step 5.4): the steps in order, progress that never passes 100 %, the
first pending step opened, Back / Next / Skip, a key form per API-key provider, OAuth connect
buttons bound to this browser session, design rules, operator mode, the import step, and a
finished state. Every read and write is the API's own (service/setup/routes.py,
service/integrations/routes.py), as the signed-in user.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, request
from pydantic import SecretStr, ValidationError

from ..context import services
from ..errors import ApiError, validation_details
from ..integrations.routes import ConnectRequest, IntegrationView, connect_api_key, integration_views
from ..setup.design_rules import DesignRulesUpdate
from ..setup.routes import OperatorModeUpdate, set_design_rules, set_operator_mode, set_step, settings_view
from . import outcomes, sessions, web

bp = web.blueprint("console_wizard")
RETURN_COOKIE = "haven_return"
OPERATOR_MODES = (
    ("supervised", "Supervised", "Recommended to start: every automated action waits for your approval."),
    ("assisted", "Assisted", "Routine actions run on their own; anything new or unusual waits for you."),
    ("autopilot", "Autopilot", "Haven Hub acts on its own within your rules; you review afterwards."),
)
DESCRIPTIONS = {
    "design_rules": "The default typography, print formats, colours, mockups and quality bar for generated "
                    "assets. Use the defaults now and change them later, or edit them here.",
    "operator_mode": "How much Haven Hub does on its own.",
    "import": "Bring in your existing shop data (orders, customers, products and collections) once the shop is "
              "connected. New changes keep arriving through the shop's webhooks afterwards.",
}


def _caller():  # type: ignore[no-untyped-def]
    session = sessions.current()
    assert session is not None  # @web.signed_in ran first
    return session.caller


def wizard_page(step: str | None = None, *, status: int = 200, error: str | None = None,
                problems: list[str] | None = None, rules_text: str | None = None) -> Response:
    caller = _caller()
    with services().db.as_user(caller.claims) as conn:
        current = settings_view(conn)
    progress = current.progress
    integrations = {view.provider: view for view in integration_views(caller)}
    keys = [s.key for s in progress.steps]
    if step not in keys:
        step = progress.next_step
    index = keys.index(step) if step in keys else None
    labels = {view.provider: view.name for view in integrations.values()}
    outcome = None if error else outcomes.message(request.args, labels)
    return web.render(
        "wizard.html", status=status, progress=progress, step=step, index=index,
        current=progress.steps[index] if index is not None else None,
        previous=keys[index - 1] if index else None,
        following=keys[index + 1] if index is not None and index + 1 < len(keys) else None,
        integrations=integrations, integration=integrations.get(step or ""), operator_mode=current.operator_mode,
        operator_modes=OPERATOR_MODES, descriptions=DESCRIPTIONS, using_defaults=current.using_default_design_rules,
        rules_text=rules_text or json.dumps(current.design_rules, indent=2), error=error, problems=problems or [],
        outcome=outcome, shop=request.args.get("shop", ""),
        configured={p.name: p.configured(services().settings) for p in services().providers},
        data_imports=[(p, p.data_import.latest(caller.claims)) for p in services().providers
                      if p.data_import is not None] if step == "import" else [])


@bp.get("/console/setup")
@web.signed_in
def setup() -> Response:
    return wizard_page(request.args.get("step"))


def _after(step: str, done: str, provider: str | None = None) -> Response:
    """Back to the wizard after a step changed: its first pending step, with the outcome."""
    query = f"done={done}" + (f"&provider={provider}" if provider else "")
    return redirect(f"/console/setup?{query}", code=303)


@bp.post("/console/setup/<provider>/connect")
@web.signed_in
def connect(provider: str) -> Response:
    """An API-key provider's form: the key is checked live, then stored (the API's own connect)."""
    refused = connect_from_form(provider)
    if refused is not None:
        return wizard_page(provider, status=refused.status, error=refused.error, problems=refused.problems)
    return _after(provider, "connected", provider)


@dataclass(frozen=True)
class FormRefused:
    status: int
    error: str
    problems: list[str]


def connect_from_form(provider: str) -> FormRefused | None:
    """Connects an API-key provider from the posted form as the signed-in user (the API's own
    connect); None when connected, else what the page tells the person who typed the key."""
    from_email = request.form.get("from_email", "").strip() or None
    try:
        body = ConnectRequest(api_key=SecretStr(request.form.get("api_key", "")), from_email=from_email)
        connect_api_key(_caller(), provider, body)
    except ValidationError as exc:
        problems = [f"{'API key' if d['field'] == 'api_key' else 'Sender address'}: {d['problem']}"
                    for d in validation_details(exc)]
        return FormRefused(400, "Please check the form.", problems)
    except ApiError as exc:
        return FormRefused(exc.status, key_problem(exc), [])
    return None


def key_problem(exc: ApiError) -> str:
    """What a refused or unchecked key means to the person who typed it."""
    if exc.code == "invalid_api_key":
        return f"The provider refused this key: {exc.message}. Check that you copied the whole key, and its access."
    if exc.code == "upstream_unavailable":
        return f"{exc.message}. Nothing was stored: try again in a moment."
    return exc.message


@bp.post("/console/setup/<provider>/install")
@web.signed_in
def install(provider: str) -> Response:
    """An OAuth provider's button: the flow is bound to this browser session, then off to consent."""
    return start_install(provider, return_to="setup")


def start_install(provider: str, *, return_to: str) -> Response:
    declared = services().providers.named(provider)
    if declared.start_install is None:
        return wizard_page(provider, status=400, error=f"{declared.label} connects with an API key.")
    raw = sessions.raw_id()
    assert raw is not None
    params = {"shop": request.form.get("shop", "").strip()} if "shop" in request.form else {}
    try:
        url = declared.start_install(_caller().user_id, params, sessions.digest(raw))
    except ApiError as exc:
        if return_to == "setup":
            return wizard_page(provider, status=exc.status, error=exc.message)
        raise
    response = redirect(url, code=303)
    secure = sessions.secure_cookies(services().settings, request)
    # Where the callback's landing page sends this browser back to (the wizard or the list).
    response.set_cookie(RETURN_COOKIE, return_to, max_age=900, path="/console/", secure=secure, httponly=True,
                        samesite="Lax")
    return response


@bp.post("/console/setup/import/<provider>/start")
@web.signed_in
def start_import(provider: str) -> Response:
    """The import step's button: the provider's own import (the API's POST), as the signed-in user."""
    declared = services().providers.named(provider)
    if declared.data_import is None:
        return wizard_page("import", status=400, error=f"{declared.label} has no data to import.")
    try:
        declared.data_import.start(_caller().user_id)
    except ApiError as exc:
        return wizard_page("import", status=exc.status, error=exc.message)
    return redirect("/console/setup?step=import", code=303)


@bp.post("/console/setup/<step>/skip")
@web.signed_in
def skip(step: str) -> Response:
    with services().db.as_user(_caller().claims) as conn:
        set_step(conn, step, "skipped")
    return _after(step, "skipped")


@bp.post("/console/setup/design-rules")
@web.signed_in
def design_rules() -> Response:
    text = request.form.get("design_rules", "")
    try:
        if request.form.get("use_defaults"):
            body = DesignRulesUpdate(use_defaults=True)
        else:
            try:
                parsed: Any = json.loads(text)
            except ValueError as exc:
                return wizard_page("design_rules", status=400, rules_text=text,
                                   error=f"The rules are not valid JSON: {exc}.")
            body = DesignRulesUpdate.model_validate({"design_rules": parsed})
    except ValidationError as exc:
        problems = [f"{d['field'] or 'rules'}: {d['problem']}" for d in validation_details(exc)]
        return wizard_page("design_rules", status=400, rules_text=text, error="Please fix these rules.",
                           problems=problems)
    with services().db.as_user(_caller().claims) as conn:
        set_design_rules(conn, body)
    return _after("design_rules", "saved")


@bp.post("/console/setup/operator-mode")
@web.signed_in
def operator_mode() -> Response:
    try:
        body = OperatorModeUpdate.model_validate({"operator_mode": request.form.get("operator_mode", "")})
    except ValidationError:
        return wizard_page("operator_mode", status=400, error="Choose one of the three modes.")
    with services().db.as_user(_caller().claims) as conn:
        set_operator_mode(conn, body)
    return _after("operator_mode", "saved")


def integration_summary(view: IntegrationView) -> list[tuple[str, str]]:
    """The account details worth showing, in words (never a secret: metadata holds none)."""
    names = {"shop_domain": "Shop", "shop_name": "Shop name", "account_name": "Account", "username": "Username",
             "board_count": "Boards", "list_count": "Lists", "account_id": "Account id",
             "from_email": "Sends from", "domain_verified": "Domain verified", "catalog_count": "Catalogs",
             "key_access": "Key access", "validated": "Checked", "default_list_name": "Default list"}
    return [(names[key], str(value)) for key, value in view.metadata.items() if key in names and value is not None]


@bp.app_template_global("integration_summary")
def _integration_summary_global(view: IntegrationView) -> list[tuple[str, str]]:
    return integration_summary(view)
