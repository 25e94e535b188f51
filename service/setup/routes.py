"""/api/settings: the setup wizard's progress, operator mode and design rules, all as the caller
(RLS and set_setup_step() keep each user to their own row)."""
from __future__ import annotations

from typing import Any, Literal

import psycopg
from flask import Blueprint
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from ..api import Strict, endpoint
from ..context import services
from ..auth import Caller
from ..errors import NotFound
from .design_rules import DesignRulesUpdate
from .progress import SetupProgressView, StepStatus, progress_view, wizard_steps

bp = Blueprint("setup", __name__)
TAGS = ("setup",)
OperatorMode = Literal["supervised", "assisted", "autopilot"]


class StepUpdate(Strict):
    status: StepStatus


class OperatorModeUpdate(Strict):
    operator_mode: OperatorMode


class SettingsView(BaseModel):
    operator_mode: OperatorMode
    design_rules: dict[str, Any]
    using_default_design_rules: bool
    progress: SetupProgressView


def set_step(conn: psycopg.Connection[Any], step: str, status: str) -> dict[str, str]:
    row = conn.execute("select public.set_setup_step(%s, %s) as progress", [step, status]).fetchone()
    assert row is not None
    return row["progress"]


def _progress(progress: dict[str, str]) -> SetupProgressView:
    return progress_view(progress, wizard_steps(services().providers))


def settings_view(conn: psycopg.Connection[Any]) -> SettingsView:
    row = conn.execute(
        "select operator_mode, design_rules, design_rules = public.default_design_rules() as defaults,"
        " setup_progress from public.user_settings where user_id = (select auth.uid())"
    ).fetchone()
    if row is None:
        raise NotFound("no settings for this user", code="no_settings")
    return SettingsView(operator_mode=row["operator_mode"], design_rules=row["design_rules"],
                        using_default_design_rules=row["defaults"],
                        progress=_progress(row["setup_progress"]))


@bp.get("/api/settings")
@endpoint("The caller's operator mode, design rules and setup progress", response=SettingsView,
          errors=(404,), tags=TAGS)
def get_settings(caller: Caller) -> SettingsView:
    with services().db.as_user(caller.claims) as conn:
        return settings_view(conn)


@bp.get("/api/settings/setup-progress")
@endpoint("The setup wizard's steps in order, with completed/total/percent and the next step",
          response=SetupProgressView, errors=(404,), tags=TAGS)
def get_progress(caller: Caller) -> SetupProgressView:
    with services().db.as_user(caller.claims) as conn:
        return settings_view(conn).progress


def _step_keys() -> list[str]:
    return [step.key for step in wizard_steps(services().providers)]


@bp.patch("/api/settings/setup-progress/<step>")
@endpoint("Set one wizard step to pending, completed or skipped", body=StepUpdate, response=SetupProgressView,
          errors=(409,), tags=TAGS, path={"step": _step_keys},
          description="400 for an unknown step; 409 when completing a connection step that is not connected "
                      "(connecting completes it), or the import step before an import completed (the import "
                      "completes it).")
def set_progress(step: str, caller: Caller, body: StepUpdate) -> SetupProgressView:
    with services().db.as_user(caller.claims) as conn:
        return _progress(set_step(conn, step, body.status))


@bp.put("/api/settings/operator-mode")
@endpoint("Choose the operator mode (completes the wizard's operator_mode step)", body=OperatorModeUpdate,
          response=SettingsView, errors=(404,), tags=TAGS)
def put_operator_mode(caller: Caller, body: OperatorModeUpdate) -> SettingsView:
    with services().db.as_user(caller.claims) as conn:
        return set_operator_mode(conn, body)


def set_operator_mode(conn: psycopg.Connection[Any], body: OperatorModeUpdate) -> SettingsView:
    """Sets the mode and completes its step, in the caller's `as_user` transaction."""
    conn.execute("update public.user_settings set operator_mode = %s where user_id = (select auth.uid())",
                 [body.operator_mode])
    set_step(conn, "operator_mode", "completed")
    return settings_view(conn)


@bp.put("/api/settings/design-rules")
@endpoint("Set the design rules, or reset them to the defaults (completes the design_rules step)",
          body=DesignRulesUpdate, response=SettingsView, errors=(404,), tags=TAGS)
def put_design_rules(caller: Caller, body: DesignRulesUpdate) -> SettingsView:
    with services().db.as_user(caller.claims) as conn:
        return set_design_rules(conn, body)


def set_design_rules(conn: psycopg.Connection[Any], body: DesignRulesUpdate) -> SettingsView:
    """Stores the rules (or the defaults) and completes their step, in the caller's transaction."""
    rules = body.design_rules.model_dump(mode="json", exclude_none=True) if body.design_rules else None
    conn.execute(
        "update public.user_settings set design_rules = coalesce(%s, public.default_design_rules())"
        " where user_id = (select auth.uid())",
        [Jsonb(rules) if rules is not None else None],
    )
    set_step(conn, "design_rules", "completed")
    return settings_view(conn)


