"""`/api/pinterest`: a user's boards and pins on Pinterest, through the queue.

Creating a board and deleting a published pin call Pinterest, so they answer 202 with the queued
item (its failure, if Pinterest refuses, stays on the failed-operations list); creating a pin
stores a draft or a scheduled pin (201), which the worker publishes once due. The rules a pin must
meet are held by SQL (`create_pin`, supabase/schemas/51_pinterest_pins.sql) and stated again here,
so the OpenAPI document says what is accepted; users read pins through RLS and write none directly.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from flask import Response
from pydantic import BaseModel, Field

from ...api import WHITESPACE, Strict, endpoint
from ...auth import Caller
from ...context import services
from ...errors import Conflict, NotFound
from ...integrations import records
from ...queue.enqueue import enqueue
from .client import NAME
from .jobs import CREATE_BOARD, DELETE_PIN
# Pinterest's one blueprint (its routes are declared here and in oauth.py).
from .oauth import bp
TAGS = ("pinterest",)

# An http(s) URL without whitespace, as SQL's create_pin() holds it (its \s is ASCII whitespace,
# this class a superset, so what the schema accepts SQL accepts).
URL_PATTERN = f"^https?://[^{WHITESPACE}/?#]+[^{WHITESPACE}]*$"
NOT_BLANK_PATTERN = f"[^{WHITESPACE}]"
Url = Annotated[str, Field(max_length=2048, pattern=URL_PATTERN)]


class BoardCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=180, pattern=NOT_BLANK_PATTERN)]
    description: Annotated[str, Field(max_length=500)] | None = None
    privacy: Literal["PUBLIC", "PROTECTED", "SECRET"] = "PUBLIC"


class Queued(BaseModel):
    queued: bool
    retry_item_id: str
    already_queued: bool = Field(False, description="the same operation was pending already: this is its item")


class PinCreate(Strict):
    board_id: UUID = Field(description="one of the caller's synced boards (pinterest_boards.id)")
    image_url: Url
    title: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    link: Url | None = None
    alt_text: Annotated[str, Field(max_length=500)] | None = None
    scheduled_at: datetime | None = Field(
        None, description="when to publish (a time with its offset); absent: a draft, never published by itself")


class PinOut(BaseModel):
    id: UUID
    board_id: UUID | None
    pinterest_pin_id: str | None
    title: str | None
    description: str | None
    link: str | None
    image_url: str | None
    alt_text: str | None
    status: str
    scheduled_at: datetime | None
    published_at: datetime | None
    last_error: str | None
    created_at: datetime


def _connected_or_409(conn: object, user_id: str) -> None:
    row = records.lock(conn, user_id, NAME)  # type: ignore[arg-type]
    if row is None or row["status"] != "connected":
        raise Conflict("Pinterest is not connected", code="not_connected")


@bp.post("/api/pinterest/boards")
@endpoint("Create a board on Pinterest (queued)", body=BoardCreate, response=Queued, status=202, errors=(409,),
          tags=TAGS, description="202 with the queued pinterest.create_board item; the board is stored once "
                                 "Pinterest has created it. A refusal by Pinterest fails the item for good, with "
                                 "Pinterest's reason, on the failed-operations list. 409 `not_connected`.")
def create_board(caller: Caller, body: BoardCreate) -> Queued:
    with services().db.as_service() as conn:
        _connected_or_409(conn, caller.user_id)
        item = enqueue(conn, caller.user_id, CREATE_BOARD, body.model_dump())
    return Queued(queued=True, retry_item_id=item)


@bp.post("/api/pinterest/pins")
@endpoint("Create a draft or scheduled pin", body=PinCreate, response=PinOut, status=201, errors=(404,),
          tags=TAGS, description="With scheduled_at the pin is scheduled: the worker publishes it once due "
                                 "(pinterest.create_pin) and it becomes published, with its Pinterest id, or failed "
                                 "with the reason. Without, a draft. 404 when board_id is not one of the caller's "
                                 "boards.")
def create_pin(caller: Caller, body: PinCreate) -> PinOut:
    with services().db.as_service() as conn:
        row = conn.execute(
            "select * from public.create_pin(%s, %s, %s, %s, %s, %s, %s, %s)",
            [caller.user_id, body.board_id, body.title, body.description, body.link, body.image_url,
             body.alt_text, body.scheduled_at]).fetchone()
    return PinOut.model_validate(row)


@bp.delete("/api/pinterest/pins/<uuid:pin_id>")
@endpoint("Delete a pin (on Pinterest too, queued, when it was published)", response=Queued, status=202,
          errors=(404, 409), tags=TAGS, extra_responses={204: "deleted at once (it was never on Pinterest)"},
          description="A pin never published (draft, scheduled, failed) is deleted at once: 204. A published "
                      "one is deleted on Pinterest by a queued pinterest.delete_pin, then here: 202 with the item "
                      "(while one is pending, that one, already_queued true). 409 `publishing` while the worker "
                      "is publishing it. 404 when it is not the caller's.")
def delete_pin(caller: Caller, pin_id: UUID) -> Queued | Response:
    with services().db.as_user(caller.claims) as conn:
        pin = conn.execute("select status, pinterest_pin_id from public.pins where id = %s", [pin_id]).fetchone()
    if pin is None:
        raise NotFound("no such pin", code="not_found")
    if pin["status"] == "publishing":
        raise Conflict("the pin is being published; delete it once it is published or failed", code="publishing")
    with services().db.as_service() as conn:
        if pin["pinterest_pin_id"] is None:
            deleted = conn.execute(
                "delete from public.pins where user_id = %s and id = %s and pinterest_pin_id is null"
                " and status <> 'publishing' returning id", [caller.user_id, pin_id]).fetchone()
            if deleted is None:
                # Since we looked: deleted by another request, or claimed by the publisher.
                if conn.execute("select 1 from public.pins where user_id = %s and id = %s",
                                [caller.user_id, pin_id]).fetchone() is None:
                    raise NotFound("no such pin", code="not_found")
                raise Conflict("the pin is being published; delete it once it is published or failed",
                               code="publishing")
            return Response(status=204)
        pending = conn.execute(
            "select id::text from public.retry_queue where user_id = %s and operation_type = %s and status = 'pending'"
            " and reference_id = %s limit 1", [caller.user_id, DELETE_PIN, pin_id]).fetchone()
        if pending is not None:
            return Queued(queued=True, retry_item_id=pending["id"], already_queued=True)
        item = enqueue(conn, caller.user_id, DELETE_PIN, {"pin_id": str(pin_id)}, reference_id=str(pin_id),
                       reference_table="pins")
    return Queued(queued=True, retry_item_id=item)
