"""Shopify: OAuth (expiring offline tokens), the GraphQL Admin API, and signature checks.

Contract notes (from Shopify's API documentation): the callback HMAC is hex HMAC-SHA256 over
the query without `hmac`/`signature`, sorted, `k=v` joined by `&` with spaces as %20; webhooks
carry base64 HMAC-SHA256 of the raw body; the token endpoint takes JSON, and `expiring=1`
returns a one-hour access token with a rotating refresh token; GraphQL throttling answers 200
with `extensions.code = THROTTLED`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import requests

from ...errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from ..http import Transport, error_field, json_body, rejected_unless_ok

NAME = "shopify"
SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
EXCLUDED_FROM_HMAC = {"hmac", "signature"}
# 100 subscriptions a page: 100 pages is 10,000 subscriptions, hundreds of times the topics we
# register, and still ends a provider whose cursors never run out.
MAX_WEBHOOK_PAGES = 100


def normalise_shop(shop: str | None) -> str | None:
    """The lower-cased `*.myshopify.com` domain, or None when it is anything else."""
    if not shop:
        return None
    candidate = shop.strip().lower()
    return candidate if SHOP_DOMAIN.fullmatch(candidate) else None


def oauth_message(params: Iterable[tuple[str, str]]) -> str:
    """The string Shopify signs for an OAuth redirect: sorted `k=v` pairs, %20 for spaces."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key not in EXCLUDED_FROM_HMAC:
            grouped.setdefault(key, []).append(value)
    return urlencode([(key, ",".join(grouped[key])) for key in sorted(grouped)], quote_via=quote)


def oauth_hmac(params: Iterable[tuple[str, str]], secret: str) -> str:
    return hmac.new(secret.encode(), oauth_message(params).encode(), hashlib.sha256).hexdigest()


def verify_oauth_hmac(params: Iterable[tuple[str, str]], given: str | None, secret: str) -> bool:
    if not given or not secret:
        return False
    return hmac.compare_digest(oauth_hmac(params, secret), given.strip().lower())


def webhook_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_webhook_hmac(body: bytes, given: str | None, secret: str) -> bool:
    if not given or not secret:
        return False
    return hmac.compare_digest(webhook_hmac(body, secret).encode(), given.strip().encode())


def topic_enum(topic: str) -> str:
    """`orders/create` -> `ORDERS_CREATE`, the GraphQL WebhookSubscriptionTopic name."""
    return topic.replace("/", "_").upper()


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    scopes: list[str]


def _grant(body: Mapping[str, Any], now: datetime) -> TokenGrant:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ProviderUnavailable(NAME, "token answer without an access_token")

    def after(seconds: Any) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if isinstance(seconds, (int, float)) else None

    scope = body.get("scope") or ""
    return TokenGrant(
        access_token=token,
        refresh_token=body.get("refresh_token") or None,
        expires_at=after(body.get("expires_in")),
        refresh_token_expires_at=after(body.get("refresh_token_expires_in")),
        scopes=[s for s in str(scope).split(",") if s],
    )


SHOP_QUERY = "query ShopInfo { shop { id name email myshopifyDomain currencyCode ianaTimezone } }"
CREATE_WEBHOOK = """
mutation CreateWebhook($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
DELETE_WEBHOOK = """
mutation DeleteWebhook($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""
LIST_WEBHOOKS = """
query ListWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    edges { node { id topic uri } }
    pageInfo { hasNextPage endCursor }
  }
}"""


# Products and customers. Customer.email is deprecated for defaultEmailAddress in recent versions;
# numberOfOrders is an UnsignedInt64 (a string in JSON).
PRODUCT_FIELDS = "id title handle status"
CREATE_PRODUCT = f"""
mutation CreateProduct($product: ProductCreateInput!) {{
  productCreate(product: $product) {{ product {{ {PRODUCT_FIELDS} }} userErrors {{ field message }} }}
}}"""
UPDATE_PRODUCT = f"""
mutation UpdateProduct($product: ProductUpdateInput!) {{
  productUpdate(product: $product) {{ product {{ {PRODUCT_FIELDS} }} userErrors {{ field message }} }}
}}"""
CUSTOMER_FIELDS = ("id firstName lastName defaultEmailAddress { emailAddress } numberOfOrders"
                   " amountSpent { amount currencyCode } tags createdAt updatedAt")
GET_CUSTOMER = f"query GetCustomer($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
SEARCH_CUSTOMERS = f"""
query SearchCustomers($query: String!, $first: Int!, $after: String) {{
  customers(query: $query, first: $first, after: $after) {{
    nodes {{ {CUSTOMER_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


RUN_BULK_QUERY = """
mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
BULK_OPERATION = """
query BulkOperation($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}"""
# What the import reads, one bulk query each (at most five connections, nesting two deep).
# Children (line items, variants, images, a collection's products) come as their own JSONL lines
# naming their parent in __parentId.
BULK_QUERIES = {
    "customers": """{ customers { edges { node {
  id email defaultEmailAddress { emailAddress } createdAt updatedAt
} } } }""",
    "orders": """{ orders { edges { node {
  id email createdAt updatedAt cancelledAt displayFinancialStatus sourceName discountCodes
  totalPriceSet { shopMoney { amount } } subtotalPriceSet { shopMoney { amount } }
  totalDiscountsSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
  customerJourneySummary { firstVisit { landingPage } }
  customer { id defaultEmailAddress { emailAddress } }
  lineItems { edges { node { id quantity } } }
} } } }""",
    "products": """{ products { edges { node {
  id title handle status vendor productType tags createdAt updatedAt
  variants { edges { node { id title sku price inventoryQuantity position } } }
  media { edges { node { ... on MediaImage { id image { url altText } } } } }
} } } }""",
    "collections": """{ collections { edges { node {
  id title handle updatedAt ruleSet { appliedDisjunctively }
  products { edges { node { id } } }
} } } }""",
}
BULK_RESULT_CHUNK = 1 << 16


def bulk_concurrency(api_version: str) -> int:
    """Bulk query operations an app may run at once per shop: five from 2026-01, one before."""
    return 5 if not re.fullmatch(r"\d{4}-\d{2}", api_version) or api_version >= "2026-01" else 1


@dataclass(frozen=True)
class BulkOperation:
    id: str
    status: str
    error_code: str | None = None
    object_count: int = 0
    url: str | None = None
    partial_data_url: str | None = None


def _bulk_operation(node: Any) -> BulkOperation:
    if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not isinstance(node.get("status"), str):
        raise ProviderUnavailable(NAME, "a bulk operation without an id or status")
    try:
        count = int(node.get("objectCount") or 0)
    except (TypeError, ValueError):
        raise ProviderUnavailable(NAME, "a bulk operation with an unreadable objectCount") from None
    return BulkOperation(node["id"], node["status"], node.get("errorCode") or None, count,
                         node.get("url") or None, node.get("partialDataUrl") or None)


class ShopifyClient:
    def __init__(self, *, client_id: str, client_secret: str, api_version: str, base_url_template: str,
                 timeout: float, session: requests.Session | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_version = api_version
        self.base_url_template = base_url_template
        self.http = Transport(NAME, timeout=timeout, session=session)

    def shop_url(self, shop: str) -> str:
        return self.base_url_template.format(shop=shop).rstrip("/")

    def authorize_url(self, shop: str, *, scopes: str, state: str, redirect_uri: str) -> str:
        # No `grant_options[]=per-user`: an offline token outlives the browser session.
        query = urlencode({"client_id": self.client_id, "scope": scopes, "redirect_uri": redirect_uri,
                           "state": state}, quote_via=quote)
        return f"{self.shop_url(shop)}/admin/oauth/authorize?{query}"

    def _token_request(self, shop: str, body: dict[str, str]) -> TokenGrant:
        now = datetime.now(timezone.utc)
        response = self.http.post(f"{self.shop_url(shop)}/admin/oauth/access_token", auth_statuses=(401, 403),
                                  json={"client_id": self.client_id, "client_secret": self.client_secret, **body},
                                  headers={"Accept": "application/json"})
        if response.status_code == 400:
            code = error_field(response, "error")
            raise ProviderAuthError(NAME, f"token request refused ({code or 'bad request'})", status=400)
        rejected_unless_ok(response, NAME, "token request")
        return _grant(json_body(response, NAME), now)

    def exchange_code(self, shop: str, code: str) -> TokenGrant:
        return self._token_request(shop, {"code": code, "expiring": "1"})

    def refresh(self, shop: str, refresh_token: str) -> TokenGrant:
        return self._token_request(shop, {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def graphql(self, shop: str, access_token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.shop_url(shop)}/admin/api/{self.api_version}/graphql.json",
                                  json={"query": query, "variables": variables or {}},
                                  headers={"X-Shopify-Access-Token": access_token, "Accept": "application/json"})
        if response.status_code in (402, 423):
            raise ProviderRejected(NAME, f"shop unavailable ({response.status_code})", status=response.status_code)
        if response.status_code == 403:
            raise ProviderRejected(NAME, "missing access scope (403)", status=403)
        rejected_unless_ok(response, NAME, "GraphQL")
        body = json_body(response, NAME)
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors if isinstance(e, dict)}
            if "THROTTLED" in codes or "INTERNAL_SERVER_ERROR" in codes:
                raise ProviderUnavailable(NAME, "GraphQL throttled or failed", status=200)
            if "ACCESS_DENIED" in codes:
                raise ProviderAuthError(NAME, "GraphQL access denied", status=200)
            raise ProviderRejected(NAME, f"GraphQL errors ({', '.join(sorted(codes - {''})) or 'query'})")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise ProviderUnavailable(NAME, "GraphQL answer without data")
        return body["data"]

    def shop_info(self, shop: str, access_token: str) -> dict[str, Any]:
        data = self.graphql(shop, access_token, SHOP_QUERY)
        info = data.get("shop")
        if not isinstance(info, dict) or not info.get("name"):
            raise ProviderUnavailable(NAME, "shop query answered without a name")
        return info

    def create_webhook(self, shop: str, access_token: str, topic: str, uri: str) -> str:
        """Subscribes `uri` to `topic`; returns the subscription's gid."""
        data = self.graphql(shop, access_token, CREATE_WEBHOOK, {"topic": topic_enum(topic), "uri": uri})
        payload = data.get("webhookSubscriptionCreate") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            messages = "; ".join(str(e.get("message", "")) for e in user_errors if isinstance(e, dict))
            # userErrors here are often passing (a shop mid-install): the queue retries them.
            raise ProviderUnavailable(NAME, f"webhookSubscriptionCreate: {messages}")
        subscription = payload.get("webhookSubscription") or {}
        if not subscription.get("id"):
            raise ProviderUnavailable(NAME, "webhookSubscriptionCreate answered without an id")
        return str(subscription["id"])

    def delete_webhook(self, shop: str, access_token: str, subscription_id: str) -> None:
        data = self.graphql(shop, access_token, DELETE_WEBHOOK, {"id": subscription_id})
        payload = data.get("webhookSubscriptionDelete") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors and not payload.get("deletedWebhookSubscriptionId"):
            messages = "; ".join(str(e.get("message", "")) for e in user_errors if isinstance(e, dict))
            if "not exist" in messages.lower() or "not found" in messages.lower():
                return  # already gone: deleting is idempotent
            raise ProviderUnavailable(NAME, f"webhookSubscriptionDelete: {messages}")

    def run_bulk_query(self, shop: str, access_token: str, query: str) -> BulkOperation:
        """Starts a bulk query operation. userErrors (another operation still running, a shop
        mid-install) are passing: the queue tries again."""
        data = self.graphql(shop, access_token, RUN_BULK_QUERY, {"query": query})
        payload = data.get("bulkOperationRunQuery") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            codes = ", ".join(sorted({str(e.get("code") or "user_error") for e in user_errors if isinstance(e, dict)}))
            raise ProviderUnavailable(NAME, f"bulkOperationRunQuery refused ({codes})")
        return _bulk_operation(payload.get("bulkOperation"))

    def bulk_operation(self, shop: str, access_token: str, operation_id: str) -> BulkOperation:
        data = self.graphql(shop, access_token, BULK_OPERATION, {"id": operation_id})
        if data.get("node") is None:
            raise ProviderRejected(NAME, "no such bulk operation")
        return _bulk_operation(data["node"])

    def bulk_result(self, url: str) -> Iterator[bytes]:
        """The JSONL result, as it arrives, in chunks (never the whole file in memory). The URL is
        signed: no token goes with it. A cut-off download is ProviderUnavailable."""
        response = self.http.get(url, stream=True)
        with response:
            rejected_unless_ok(response, NAME, "bulk operation result")
            try:
                yield from response.iter_content(BULK_RESULT_CHUNK)
            except requests.RequestException as exc:
                raise ProviderUnavailable(NAME, f"the result download broke off ({type(exc).__name__})") from None

    def list_webhooks(self, shop: str, access_token: str) -> Iterator[dict[str, str]]:
        """Every subscription, following `endCursor`: a page that cannot be read or a cursor that
        does not progress is ProviderUnavailable, not a loop that holds a worker item for ever."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_WEBHOOK_PAGES):
            data = self.graphql(shop, access_token, LIST_WEBHOOKS, {"after": cursor})
            connection = data.get("webhookSubscriptions")
            if not isinstance(connection, dict):
                raise ProviderUnavailable(NAME, "webhookSubscriptions answered without a connection")
            yield from _webhook_nodes(connection)
            cursor = _next_cursor(connection, seen)
            if cursor is None:
                return
        raise ProviderUnavailable(NAME, f"more than {MAX_WEBHOOK_PAGES} pages of webhook subscriptions")


    # -- products and customers (issue 14, item 5) ----------------------------------------------

    def create_product(self, shop: str, access_token: str, product: Mapping[str, Any]) -> dict[str, Any]:
        """`productCreate(product: ProductCreateInput!)`: the created product's id, title, handle and
        status. userErrors are ProviderRejected (asking again gets the same answer)."""
        data = self.graphql(shop, access_token, CREATE_PRODUCT, {"product": dict(product)})
        return _product_of(data, "productCreate")

    def update_product(self, shop: str, access_token: str, product: Mapping[str, Any]) -> dict[str, Any]:
        """`productUpdate(product: ProductUpdateInput!)` (the input carries the product's `id`)."""
        data = self.graphql(shop, access_token, UPDATE_PRODUCT, {"product": dict(product)})
        return _product_of(data, "productUpdate")

    def customer(self, shop: str, access_token: str, customer_gid: str) -> dict[str, Any] | None:
        """`customer(id:)`: the customer, or None when the shop has none with that id."""
        data = self.graphql(shop, access_token, GET_CUSTOMER, {"id": customer_gid})
        node = data.get("customer")
        if node is None:
            return None
        return _customer_of(node)

    def search_customers(self, shop: str, access_token: str, query: str, *, first: int,
                         after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `customers(query:)`: the customers and the cursor of the next page (None on
        the last). Shopify's search syntax; `first` is at most 250."""
        data = self.graphql(shop, access_token, SEARCH_CUSTOMERS, {"query": query, "first": first, "after": after})
        connection = data.get("customers")
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            raise ProviderUnavailable(NAME, "customers answered without a connection")
        customers = [_customer_of(node) for node in connection["nodes"]]
        page_info = connection.get("pageInfo")
        if not isinstance(page_info, dict):
            raise ProviderUnavailable(NAME, "a customers page without pageInfo")
        cursor = page_info.get("endCursor") if page_info.get("hasNextPage") else None
        if page_info.get("hasNextPage") and (not isinstance(cursor, str) or not cursor or cursor == after):
            raise ProviderUnavailable(NAME, "the customers pagination does not progress")
        return customers, cursor


def _user_error_text(errors: list[Any]) -> str:
    parts = []
    for error in errors:
        if isinstance(error, dict):
            field = error.get("field")
            where = ".".join(str(f) for f in field) if isinstance(field, list) else ""
            parts.append(f"{where}: {error.get('message', '')}" if where else str(error.get("message", "")))
    return "; ".join(parts) or "refused"


def _product_of(data: Mapping[str, Any], mutation: str) -> dict[str, Any]:
    payload = data.get(mutation)
    if not isinstance(payload, dict):
        raise ProviderUnavailable(NAME, f"{mutation} answered without a payload")
    user_errors = payload.get("userErrors") or []
    if user_errors:
        # The shop refused the product itself (a blank title, an unknown id, a taken handle): the
        # same request gets the same answer, so the item fails now, with Shopify's words.
        raise ProviderRejected(NAME, f"{mutation}: {_user_error_text(user_errors)}")
    product = payload.get("product")
    if not isinstance(product, dict) or not isinstance(product.get("id"), str) or not product["id"]:
        raise ProviderUnavailable(NAME, f"{mutation} answered without a product")
    return {key: product.get(key) for key in ("id", "title", "handle", "status")}


def _customer_of(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict) or not isinstance(node.get("id"), str):
        raise ProviderUnavailable(NAME, "a customer without an id")
    email = node.get("defaultEmailAddress")
    spent = node.get("amountSpent")
    return {
        "id": node["id"],
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "email": email.get("emailAddress") if isinstance(email, dict) else None,
        "number_of_orders": int(node.get("numberOfOrders") or 0),
        "amount_spent": spent.get("amount") if isinstance(spent, dict) else None,
        "currency": spent.get("currencyCode") if isinstance(spent, dict) else None,
        "tags": [str(t) for t in node.get("tags") or []],
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }


def _webhook_nodes(connection: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    edges = connection.get("edges")
    if not isinstance(edges, list):
        raise ProviderUnavailable(NAME, "a webhookSubscriptions page without edges")
    for edge in edges:
        node = edge.get("node") if isinstance(edge, dict) else None
        fields = {key: node.get(key) for key in ("id", "topic", "uri")} if isinstance(node, dict) else {}
        # All three are non-null in the schema; "None" as an id would be deleted or adopted later.
        if len(fields) != 3 or not all(isinstance(value, str) and value for value in fields.values()):
            raise ProviderUnavailable(NAME, "a webhook subscription without an id, topic or uri")
        yield fields


def _next_cursor(connection: Mapping[str, Any], seen: set[str]) -> str | None:
    """The next page's cursor, None after the last page. Claiming more pages without a cursor, or
    with one already followed, would ask for the same pages again and again."""
    page_info = connection.get("pageInfo")
    if not isinstance(page_info, dict):
        raise ProviderUnavailable(NAME, "a webhookSubscriptions page without pageInfo")
    if not page_info.get("hasNextPage"):
        return None
    cursor = page_info.get("endCursor")
    if not isinstance(cursor, str) or not cursor or cursor in seen:
        raise ProviderUnavailable(NAME, "the webhookSubscriptions pagination does not progress")
    seen.add(cursor)
    return cursor
