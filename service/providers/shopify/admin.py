"""The shop's products and customers through the Admin API (issue 14, item 5), and its time zone.

- Creating and updating a product is queued (`shopify.create_product`, `shopify.update_product`):
  the request answers 202 with the queue item, the worker calls `productCreate`/`productUpdate`, a
  passing failure (5xx, throttling, a timeout) is retried with the queue's backoff, and a product
  the shop refuses (userErrors) fails the item at once with Shopify's message, on the failed list.
- Customer lookup (`customer(id:)`) and search (`customers(query:)`) are answered at once, a
  bounded page at a time.
- `shopify.sync_shop_time_zone` reads `shop { ianaTimezone }` for a shop connected before the
  install read it (queued by the migration that added the column); daily_metrics count days in
  that zone (supabase/schemas/26_daily_metrics_rollup.sql).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from flask import Blueprint
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...api import WHITESPACE, Strict, endpoint
from ...auth import Caller
from ...context import services
from ...errors import BadRequest, Conflict, NotFound, PermanentError
from ...integrations import tokens
from ...queue.enqueue import enqueue
from ...queue.registry import Job
from .client import NAME
from .oauth import client, refresher

log = logging.getLogger(__name__)
bp = Blueprint("shopify_admin", __name__)
TAGS = ("shopify",)
CREATE_PRODUCT = "shopify.create_product"
UPDATE_PRODUCT = "shopify.update_product"
SYNC_SHOP_TIME_ZONE = "shopify.sync_shop_time_zone"
# Shopify's numeric ids (legacyResourceId): a gid is built from them, so nothing but digits passes.
NUMERIC_ID = re.compile(r"[1-9][0-9]{0,19}")
NUMERIC_ID_PATTERN = "^[1-9][0-9]{0,19}$"
# Printable text without control characters (tabs and newlines aside): what a product's fields hold.
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
# One line of text that is not blank: no control characters, at least one other than whitespace.
LINE = "[^\\u0000-\\u001f\\u007f]*"
NOT_BLANK_LINE = f"^{LINE}[^{WHITESPACE}\\u0000-\\u001f\\u007f]{LINE}$"
SEARCH_PAGE_MAX = 50


def _numeric_id_schema() -> dict[str, str]:
    return {"pattern": NUMERIC_ID_PATTERN}


Tag = Annotated[str, Field(min_length=1, max_length=255, pattern="^[^,\\u0000-\\u001f\\u007f]+$")]


class ProductFields(Strict):
    # Absent means "not sent"; null is refused (the types are not nullable): a product's title
    # cannot be removed, and clearing a field is not something this endpoint offers.
    title: str = Field(None, min_length=1, max_length=255, pattern=NOT_BLANK_LINE,  # type: ignore[assignment]
                       description="the product's title: not blank, no control characters")
    # Bounded as the service's other free text is (a quote: 2,000): a print's description is short,
    # and a longer one can be edited in Shopify.
    description_html: str = Field(None, max_length=2000, pattern=TEXT_PATTERN,  # type: ignore[assignment]
                                  description="the description, as HTML (at most 2,000 characters)")
    vendor: str = Field(None, max_length=255, pattern=TEXT_PATTERN)  # type: ignore[assignment]
    product_type: str = Field(None, max_length=255, pattern=TEXT_PATTERN)  # type: ignore[assignment]
    handle: str = Field(None, min_length=1, max_length=255, pattern="^[a-z0-9][a-z0-9-]*$",  # type: ignore[assignment]
                        description="the URL handle: lower-case letters, digits and '-'")
    tags: list[Tag] = Field(None, max_length=50,  # type: ignore[assignment]
                            description="at most 50 tags of 1-255 characters, without commas")
    status: Literal["ACTIVE", "DRAFT", "ARCHIVED"] = None  # type: ignore[assignment]

    def graphql_input(self) -> dict[str, Any]:
        """The fields that were sent, as ProductCreateInput/ProductUpdateInput names them."""
        names = {"title": "title", "description_html": "descriptionHtml", "vendor": "vendor",
                 "product_type": "productType", "handle": "handle", "tags": "tags", "status": "status"}
        sent = self.model_dump(exclude_unset=True)
        return {names[key]: value for key, value in sent.items()}


class ProductCreateRequest(ProductFields):
    title: str = Field(min_length=1, max_length=255, pattern=NOT_BLANK_LINE,
                       description="the product's title: not blank, no control characters")
    status: Literal["ACTIVE", "DRAFT", "ARCHIVED"] = Field("DRAFT", description="DRAFT unless said otherwise")

    def graphql_input(self) -> dict[str, Any]:
        return {**super().graphql_input(), "title": self.title, "status": self.status}


class ProductUpdateRequest(ProductFields):
    """At least one field (the document says so with minProperties)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _something_to_change(self) -> ProductUpdateRequest:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self


class ProductQueued(BaseModel):
    queued: bool
    retry_item_id: str
    operation_type: str


class Customer(BaseModel):
    id: str = Field(description="Shopify's gid, e.g. gid://shopify/Customer/123")
    first_name: str | None
    last_name: str | None
    email: str | None
    number_of_orders: int
    amount_spent: str | None = Field(description="the lifetime spend, as Shopify states it (a decimal)")
    currency: str | None
    tags: list[str]
    created_at: str | None
    updated_at: str | None


class CustomerSearchQuery(Strict):
    query: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK_LINE,
                       description="Shopify's customer search syntax, e.g. `email:ann@example.com` or `Ann`")
    limit: int = Field(25, ge=1, le=SEARCH_PAGE_MAX, description="customers per page")
    after: str | None = Field(None, min_length=1, max_length=500, pattern="^[!-~]+$",
                              description="the next_cursor of the previous page")


class CustomerPage(BaseModel):
    customers: list[Customer]
    next_cursor: str | None = Field(description="pass as `after` for the next page; null on the last")


def _held_shop(user_id: str) -> str:
    """The shop the user's connected Shopify integration names; 409 when there is none."""
    with services().db.as_service() as conn:
        row = conn.execute("select status, metadata from public.integrations where user_id = %s and provider = %s",
                           [user_id, NAME]).fetchone()
    shop = (row["metadata"] or {}).get("shop_domain") if row is not None else None
    if row is None or row["status"] != "connected" or not shop:
        raise Conflict("Shopify is not connected", code="not_connected")
    return str(shop)


def _token(user_id: str, reader: str) -> str:
    settings = services().settings
    shopify_refresher = refresher(settings)
    if shopify_refresher is None:
        raise Conflict("Shopify is not configured on this server (SHOPIFY_CLIENT_ID/SECRET)",
                       code="provider_not_configured")
    return tokens.access_token(services().db, shopify_refresher, user_id, reader=reader)


def _numeric_id(value: str, what: str) -> str:
    if not NUMERIC_ID.fullmatch(value):
        raise BadRequest(f"a {what} id is Shopify's numeric id (1-20 digits)", code="invalid_request",
                         details=[{"field": f"{what}_id", "problem": "must be 1-20 digits, not starting with 0"}])
    return value


def _queue_product(caller: Caller, operation_type: str, product: dict[str, Any]) -> ProductQueued:
    shop = _held_shop(caller.user_id)
    client(services().settings)  # 409 now, not a failed item later, when Shopify is not configured
    with services().db.as_service() as conn:
        item = enqueue(conn, caller.user_id, operation_type, {"shop": shop, "product": product})
    return ProductQueued(queued=True, retry_item_id=item, operation_type=operation_type)


@bp.post("/api/shopify/products")
@endpoint("Queue creating a product in the connected shop (productCreate)", body=ProductCreateRequest,
          response=ProductQueued, status=202, errors=(409,), tags=TAGS,
          description="202 with the queue item `shopify.create_product`; the worker creates the product and "
                      "retries passing failures. A product the shop refuses (userErrors) fails the item with "
                      "Shopify's message, on the failed-operations list. 409 `not_connected`.")
def create_product(caller: Caller, body: ProductCreateRequest) -> ProductQueued:
    return _queue_product(caller, CREATE_PRODUCT, body.graphql_input())


@bp.patch("/api/shopify/products/<product_id>")
@endpoint("Queue updating a product of the connected shop (productUpdate)", body=ProductUpdateRequest,
          response=ProductQueued, status=202, errors=(409,), tags=TAGS, path={"product_id": _numeric_id_schema},
          description="`product_id`: Shopify's numeric product id (else 400). Only the fields sent change. 202 "
                      "with the queue item `shopify.update_product`; an unknown product or a refused change "
                      "(userErrors) fails the item with Shopify's message. 409 `not_connected`.")
def update_product(product_id: str, caller: Caller, body: ProductUpdateRequest) -> ProductQueued:
    gid = f"gid://shopify/Product/{_numeric_id(product_id, 'product')}"
    return _queue_product(caller, UPDATE_PRODUCT, {"id": gid, **body.graphql_input()})


@bp.get("/api/shopify/customers/<customer_id>")
@endpoint("One customer of the connected shop, from Shopify (customer(id:))", response=Customer,
          errors=(404, 409, 502), tags=TAGS, path={"customer_id": _numeric_id_schema},
          description="`customer_id`: Shopify's numeric customer id (else 400). 404 `not_found` when the shop "
                      "has no such customer; 409 `not_connected` / `reconnect_required`; 502 when Shopify "
                      "cannot answer.")
def get_customer(customer_id: str, caller: Caller) -> Customer:
    gid = f"gid://shopify/Customer/{_numeric_id(customer_id, 'customer')}"
    shop = _held_shop(caller.user_id)
    found = client(services().settings).customer(shop, _token(caller.user_id, "GET /api/shopify/customers"), gid)
    if found is None:
        raise NotFound("the shop has no customer with that id", code="not_found")
    return Customer.model_validate(found)


@bp.get("/api/shopify/customers")
@endpoint("Search the connected shop's customers, one bounded page at a time (customers(query:))",
          query=CustomerSearchQuery, response=CustomerPage, errors=(409, 502), tags=TAGS,
          description=f"At most {SEARCH_PAGE_MAX} a page; follow `next_cursor` with `after`. 409 `not_connected` "
                      "/ `reconnect_required`; 502 when Shopify cannot answer.")
def search_customers(caller: Caller, query: CustomerSearchQuery) -> CustomerPage:
    shop = _held_shop(caller.user_id)
    found, cursor = client(services().settings).search_customers(
        shop, _token(caller.user_id, "GET /api/shopify/customers"), query.query, first=query.limit, after=query.after)
    return CustomerPage(customers=[Customer.model_validate(c) for c in found], next_cursor=cursor)


# -- the queued operations ---------------------------------------------------------------------

def _job_token(job: Job, shop: str) -> str:
    """The token for `shop`, if the user still holds it; PermanentError when they moved on."""
    with job.context.db.as_service() as conn:
        row = conn.execute("select status, metadata from public.integrations where user_id = %s and provider = %s",
                           [job.user_id, NAME]).fetchone()
    if row is None or row["status"] != "connected" or (row["metadata"] or {}).get("shop_domain") != shop:
        raise PermanentError(f"Shopify is no longer connected to {shop}")
    shopify_refresher = refresher(job.context.settings)
    if shopify_refresher is None:
        raise PermanentError("Shopify is not configured on this server")
    return tokens.access_token(job.context.db, shopify_refresher, job.user_id, reader=job.operation_type)


def _record(job: Job, action: str, details: Mapping[str, Any]) -> None:
    with job.context.db.as_service() as conn:
        conn.execute("select public.log_activity(%s, %s, %s, true, 'shopify')",
                     [job.user_id, action, Jsonb(dict(details))])


def run_create_product(job: Job) -> None:
    """productCreate. A retry after an answer that never arrived may create the product twice:
    productCreate takes no idempotency key in our API version (docs/shopify.md)."""
    shop = str(job.payload["shop"])
    product = client(job.context.settings).create_product(shop, _job_token(job, shop), job.payload["product"])
    _record(job, "shopify_product_created", {"shop": shop, "product_id": product["id"], "handle": product["handle"],
                                             "retry_item_id": job.id})


def run_update_product(job: Job) -> None:
    """productUpdate: setting the same fields again is harmless, so a retry is safe."""
    shop = str(job.payload["shop"])
    product = client(job.context.settings).update_product(shop, _job_token(job, shop), job.payload["product"])
    _record(job, "shopify_product_updated", {"shop": shop, "product_id": product["id"], "retry_item_id": job.id,
                                             "fields": sorted(k for k in job.payload["product"] if k != "id")})


def run_sync_shop_time_zone(job: Job) -> None:
    """Reads `shop { ianaTimezone }` and records it (null, i.e. UTC, when Postgres does not know it)."""
    shop = str(job.payload["shop"])
    info = client(job.context.settings).shop_info(shop, _job_token(job, shop))
    record_time_zone(job.context.db, shop, info.get("ianaTimezone"))


def record_time_zone(db: Any, shop: str, zone: Any) -> str | None:
    """Stores the shop's zone (the daily_metrics days follow it); what was stored."""
    with db.as_service() as conn:
        stored = conn.execute("select public.set_shopify_shop_time_zone(%s, %s) as zone",
                              [shop, zone if isinstance(zone, str) else None]).fetchone()["zone"]
    if stored is None:
        log.warning("Shopify shop %s: time zone %r unknown here; its days are counted in UTC", shop, zone)
    return stored  # type: ignore[no-any-return]
