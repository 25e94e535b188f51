"""Liveness, the caller's identity, and the API's own description."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .api import endpoint, openapi_document
from .context import services
from .auth import Caller
from pydantic import BaseModel

bp = Blueprint("system", __name__)


class Health(BaseModel):
    status: str
    database: str


class Me(BaseModel):
    id: str
    email: str | None
    role: str


@bp.get("/healthz")
@endpoint("Liveness: 200 only when the database answers", response=Health, auth=False,
          extra_responses={503: "the database does not answer"}, tags=("system",))
def healthz():  # type: ignore[no-untyped-def]
    if services().db.ping():
        return Health(status="ok", database="ok")
    return jsonify(Health(status="unavailable", database="unreachable").model_dump()), 503


class Live(BaseModel):
    status: str


@bp.get("/livez")
@endpoint("Liveness of the process alone (no database): for restart probes", response=Live, auth=False,
          tags=("system",))
def livez() -> Live:
    return Live(status="ok")


@bp.get("/api/me")
@endpoint("The signed-in caller", response=Me, tags=("system",))
def me(caller: Caller) -> Me:
    return Me(id=caller.user_id, email=caller.email, role=caller.role)


@bp.get("/api/openapi.json")
@endpoint("This API's OpenAPI document", auth=False, tags=("system",))
def openapi():  # type: ignore[no-untyped-def]
    document = current_app.extensions.get("haven.openapi")
    if document is None:
        document = current_app.extensions["haven.openapi"] = openapi_document(current_app)
    return jsonify(document)
