"""A fake Shopify that follows the documented contract closely enough to catch mistakes.

Per-shop URLs live under /shops/<shop> (the client's base-URL template points there). It keeps
state like the real one: single-use authorization codes bound to a shop, expiring access tokens,
rotating refresh tokens (the previous one works until the new one is first used), webhook
subscriptions per shop, and it can be told to fail the next calls in the ways Shopify fails.

Bulk operations: `bulkOperationRunQuery` creates one (CREATED) for the query's root connection
(customers, orders, products, collections), refusing a sixth in flight per shop (one before API
version 2026-01), as Shopify does; `node(id:)` reads it (CREATED, then RUNNING with a growing
objectCount). A test ends operations with `finish_bulk_operations`, which applies any scripted
outcome (`script_bulk`: FAILED, CANCELED, EXPIRED, or COMPLETED with only a partialDataUrl),
publishes the JSONL result at a URL of its own (streamed, never built whole in memory) and
returns each operation's signed `bulk_operations/finish` webhook, for the test to deliver. The
JSONL has one line per object; children (line items, variants, images, a collection's products)
are lines of their own naming their parent in `__parentId`, and by default come after every
parent, in reverse, since Shopify does not promise they follow their parent.
"""
from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from html import escape
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from service.providers.shopify.client import oauth_hmac, webhook_hmac

# Pagination the contract rules out, to show a client still ends: "null_cursor" claims a next page
# without an endCursor, "repeat_cursor" hands back the cursor it was given, "endless" never runs
# out of (empty) pages.
CursorFault = Literal["null_cursor", "repeat_cursor", "endless"]
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


# The children of each kind's objects in the bulk queries' JSONL: the key a test's object holds
# them under.
BULK_CHILDREN = {"customers": (), "orders": ("lineItems",), "products": ("variants", "media"),
                 "collections": ("products",)}
BULK_FINAL = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")


@dataclass
class FakeBulkOperation:
    id: str
    shop: str
    kind: str
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    url: str | None = None
    partial_data_url: str | None = None
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


@dataclass
class FakeShop:
    domain: str
    name: str
    webhooks: dict[str, dict[str, str]] = field(default_factory=dict)
    # The shop's objects in the GraphQL shape: customers and products by gid (read and written by
    # the Admin calls and served by the bulk queries alike), orders and collections as lists;
    # children nested under BULK_CHILDREN's keys.
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    iana_timezone: str = "America/New_York"
    orders: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    # A kind's JSONL lines from elsewhere (the bench's million orders): replaces the list above.
    bulk_sources: dict[str, Callable[[], Iterable[bytes]]] = field(default_factory=dict)
    # False: each child right after its parent.
    children_last: bool = True


def jsonl_lines(objects: Iterable[dict[str, Any]], children: tuple[str, ...], *,
                children_last: bool) -> Iterator[bytes]:
    """A bulk query's JSONL: each object, then (or after all of them) its children with __parentId."""
    later: list[bytes] = []
    for obj in objects:
        yield json.dumps({k: v for k, v in obj.items() if k not in children}).encode() + b"\n"
        kids = [json.dumps({**child, "__parentId": obj["id"]}).encode() + b"\n"
                for key in children for child in obj.get(key) or []]
        if children_last:
            later.extend(kids)
        else:
            yield from kids
    yield from reversed(later)


@dataclass
class FakeShopify:
    client_id: str = "fake-shopify-client-id"
    client_secret: str = "fake-shopify-client-secret"
    access_token_lifetime: int = 3600
    shops: dict[str, FakeShop] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    access_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    cursor_fault: CursorFault | None = None
    # A faulty listing still ends after this many pages, so a client without guards fails its
    # test instead of hanging it.
    cursor_fault_pages: int = 50
    _fault_pages_served: int = 0
    # True: the authorize URL shows a consent page whose "Install app" link carries the signed
    # callback (as Shopify's does, for browser tests); False: it redirects straight back.
    consent_page: bool = False
    bulk_operations: dict[str, FakeBulkOperation] = field(default_factory=dict)
    # kind -> outcomes for its next operations: ("FAILED", error_code), ("PARTIAL", None), …
    bulk_script: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    bulk_files: dict[str, Callable[[], Iterable[bytes]]] = field(default_factory=dict)

    @staticmethod
    def bulk_limit(version: str) -> int:
        """Bulk queries a shop may run at once: five from API version 2026-01, one before."""
        return 5 if version >= "2026-01" else 1

    def script_bulk(self, kind: str, status: str, error_code: str | None = None) -> None:
        """The next operation of `kind` ends FAILED, CANCELED, EXPIRED or PARTIAL (COMPLETED with
        only a partialDataUrl) instead of COMPLETED."""
        self.bulk_script.setdefault(kind, []).append((status, error_code))

    def _bulk_source(self, op: FakeBulkOperation) -> Callable[[], Iterable[bytes]]:
        store = self.shops[op.shop]
        if op.kind in store.bulk_sources:
            return store.bulk_sources[op.kind]
        held = getattr(store, op.kind)
        objects = list(held.values() if isinstance(held, dict) else held)
        return lambda: jsonl_lines(objects, BULK_CHILDREN[op.kind], children_last=store.children_last)

    def finish_bulk_operations(self, shop: str | None = None) -> list[tuple[bytes, dict[str, str]]]:
        """Ends every operation in flight (of `shop`): scripted outcome or COMPLETED with its file.
        Returns their signed bulk_operations/finish deliveries, for the test to POST."""
        deliveries = []
        with self.lock:
            ops = [op for op in self.bulk_operations.values()
                   if op.status not in BULK_FINAL and (shop is None or op.shop == shop)]
        for op in ops:
            with self.lock:
                script = self.bulk_script.get(op.kind) or []
                outcome, code = script.pop(0) if script else ("COMPLETED", None)
            source = self._bulk_source(op)
            token = secrets.token_hex(8)
            self.bulk_files[token] = source
            url = f"{self.base}/bulk-results/{token}.jsonl?signature=fake"  # type: ignore[attr-defined]
            op.object_count = (sum(chunk.count(b"\n") for chunk in source()) if outcome in ("COMPLETED", "PARTIAL")
                               else op.object_count)
            if outcome == "PARTIAL":
                op.status, op.partial_data_url, op.error_code = "COMPLETED", url, code
            elif outcome == "COMPLETED":
                op.status, op.url = "COMPLETED", url if op.object_count else None
            else:
                op.status, op.error_code = outcome, code
            deliveries.append(self.signed_webhook("bulk_operations/finish", op.shop, {
                "admin_graphql_api_id": op.id, "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "created_at": op.created_at, "error_code": op.error_code.lower() if op.error_code else None,
                "status": op.status.lower(), "type": "query"}))
        return deliveries

    def _run_bulk_query(self, shop: str, version: str, query: str) -> dict[str, Any]:
        kind = next((k for k in BULK_CHILDREN if query.lstrip("{ ").startswith(k)), None)
        if kind is None:
            return {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": "Bulk queries must contain at least one connection.",
                 "code": "INVALID"}]}
        with self.lock:
            running = [op for op in self.bulk_operations.values() if op.shop == shop and op.status not in BULK_FINAL]
            if len(running) >= self.bulk_limit(version):
                return {"bulkOperation": None, "userErrors": [
                    {"field": None, "message": "A bulk query operation for this app and shop is already in progress",
                     "code": "OPERATION_IN_PROGRESS"}]}
            op = FakeBulkOperation(f"gid://shopify/BulkOperation/{next(self._ids)}", shop, kind)
            self.bulk_operations[op.id] = op
        return {"bulkOperation": {"id": op.id, "status": op.status}, "userErrors": []}

    def _bulk_node(self, shop: str, gid: str) -> dict[str, Any] | None:
        op = self.bulk_operations.get(gid)
        if op is None or op.shop != shop:
            return None
        if op.status in ("CREATED", "RUNNING"):
            op.status = "RUNNING"
            op.object_count += 1  # Shopify's count grows while it runs
        return {"id": op.id, "status": op.status, "errorCode": op.error_code, "objectCount": str(op.object_count),
                "url": op.url, "partialDataUrl": op.partial_data_url}

    def add_shop(self, domain: str, name: str = "Haven Prints") -> FakeShop:
        shop = self.shops[domain] = FakeShop(domain, name)
        return shop

    def fail_next(self, operation: str, how: Any) -> None:
        """Makes the next `operation` (token, graphql, webhookSubscriptionCreate, …) fail.

        `how`: an int status, "throttled", or "user_errors".
        """
        self.failures.append((operation, how))

    def _take_failure(self, operation: str) -> Any:
        with self.lock:
            for index, (name, how) in enumerate(self.failures):
                if name == operation:
                    del self.failures[index]
                    return how
        return None

    def approve(self, shop: str, state: str, redirect_uri: str, *, timestamp: int | None = None) -> str:
        """What Shopify redirects the merchant to after approval: the signed callback URL."""
        code = secrets.token_hex(16)
        self.codes[code] = shop
        params = {"code": code, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvaGF2ZW4", "shop": shop,
                  "state": state, "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
        params["hmac"] = oauth_hmac(params.items(), self.client_secret)
        return f"{redirect_uri}?{urlencode(params)}"

    def issue_access_token(self, shop: str, lifetime: int | None = None) -> str:
        token = f"shpat_{secrets.token_hex(16)}"
        self.access_tokens[token] = (shop, time.time() + (lifetime or self.access_token_lifetime))
        return token

    def _grant(self, shop: str, expiring: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": self.issue_access_token(shop), "scope": "read_orders,read_customers"}
        if expiring:
            refresh = f"shprt_{secrets.token_hex(16)}"
            self.refresh_tokens[refresh] = {"shop": shop, "state": "active", "previous": None}
            body.update(expires_in=self.access_token_lifetime, refresh_token=refresh,
                        refresh_token_expires_in=7_776_000)
        return body

    def signed_webhook(self, topic: str, shop: str, payload: Any, *, webhook_id: str | None = None,
                       secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        """A delivery as Shopify sends it: the raw body and its headers."""
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": webhook_id or secrets.token_hex(8),
            "X-Shopify-Event-Id": secrets.token_hex(8),
            # Shopify's timestamps carry sub-second digits (e.g. 2026-11-20T10:00:00.123456789Z).
            "X-Shopify-Triggered-At": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now := time.time()))}"
                                      f".{int(now % 1 * 1_000_000):06d}Z",
            "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret or self.client_secret),
        }
        return body, headers

    def _page_info(self, after: Any, end: int, total: int) -> tuple[bool, str | None]:
        """hasNextPage and endCursor of a page ending at `end`, as `cursor_fault` would have them."""
        if self.cursor_fault is not None:
            with self.lock:
                self._fault_pages_served += 1
                exhausted = self._fault_pages_served >= self.cursor_fault_pages
            if not exhausted:
                if self.cursor_fault == "null_cursor":
                    return True, None
                if self.cursor_fault == "repeat_cursor":
                    return True, str(after or end)
                return True, str(end)
        has_next = end < total
        return has_next, str(end) if has_next else None

    def app(self) -> Flask:
        app = Flask("fake_shopify")

        @app.get("/shops/<shop>/admin/oauth/authorize")
        def authorize(shop: str):  # type: ignore[no-untyped-def]
            if request.args.get("client_id") != self.client_id or shop not in self.shops:
                return Response("Oauth error invalid_request", status=400)
            approved = self.approve(shop, request.args["state"], request.args["redirect_uri"])
            if self.consent_page:
                return Response(f'<!doctype html><title>Install app</title><h1>Install Haven Hub on {shop}?</h1>'
                                f'<a id="approve" href="{escape(approved)}">Install app</a>', content_type="text/html")
            return redirect(approved)

        @app.post("/shops/<shop>/admin/oauth/access_token")
        def access_token(shop: str):  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
            body = body or {}
            self.requests.append({"op": "token", "shop": shop, "grant_type": body.get("grant_type", "code"),
                                  "expiring": body.get("expiring")})
            failure = self._take_failure("token")
            if isinstance(failure, int):
                return jsonify({"error": "server_error"}), failure
            if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
                return jsonify({"error": "invalid_client", "error_description": "Invalid client credentials"}), 401
            with self.lock:
                if body.get("grant_type") == "refresh_token":
                    entry = self.refresh_tokens.get(str(body.get("refresh_token")))
                    if not entry or entry["shop"] != shop or entry["state"] == "retired":
                        return jsonify({"error": "invalid_grant",
                                        "error_description": "The refresh token is invalid or expired"}), 400
                    grant = self._grant(shop, expiring=True)
                    # The replacement retires its predecessor only when it is first used.
                    if entry["previous"]:
                        self.refresh_tokens[entry["previous"]]["state"] = "retired"
                    entry["state"] = "superseded"
                    self.refresh_tokens[grant["refresh_token"]]["previous"] = str(body.get("refresh_token"))
                    return jsonify(grant)
                code = str(body.get("code"))
                if self.codes.pop(code, None) != shop:
                    return jsonify({"error": "invalid_request",
                                    "error_description": "The authorization code was not found or was already used"}), 400
                return jsonify(self._grant(shop, expiring=body.get("expiring") in ("1", 1, True)))

        @app.post("/shops/<shop>/admin/api/<version>/graphql.json")
        def graphql(shop: str, version: str):  # type: ignore[no-untyped-def]
            token = request.headers.get("X-Shopify-Access-Token", "")
            owner, expires = self.access_tokens.get(token, (None, 0.0))
            if owner != shop or expires < time.time():
                return jsonify(INVALID_TOKEN_BODY), 401
            payload = request.get_json(silent=True) or {}
            query, variables = str(payload.get("query", "")), payload.get("variables") or {}
            answered = self._products_and_customers(shop, query, variables)
            if answered is not None:
                return answered
            operation = next((name for name in ("bulkOperationRunQuery", "BulkOperation", "webhookSubscriptionCreate",
                                                "webhookSubscriptionDelete", "webhookSubscriptions", "shop")
                              if name in query), "unknown")
            self.requests.append({"op": operation, "shop": shop, "version": version, "variables": variables})
            failure = self._take_failure(operation) or self._take_failure("graphql")
            if failure == "throttled":
                return jsonify({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": None}}})
            if isinstance(failure, int):
                return jsonify({"errors": "Internal error"}), failure
            store = self.shops[shop]
            if operation == "bulkOperationRunQuery":
                return jsonify({"data": {"bulkOperationRunQuery": self._run_bulk_query(
                    shop, version, str(variables.get("query", "")))}})
            if operation == "BulkOperation":
                return jsonify({"data": {"node": self._bulk_node(shop, str(variables.get("id")))}})
            if operation == "shop":
                return jsonify({"data": {"shop": {"id": "gid://shopify/Shop/1", "name": store.name,
                                                  "email": "owner@example.com", "myshopifyDomain": shop,
                                                  "currencyCode": "USD", "ianaTimezone": store.iana_timezone}}})
            if operation == "webhookSubscriptionCreate":
                if failure == "user_errors":
                    return jsonify({"data": {"webhookSubscriptionCreate": {
                        "webhookSubscription": None,
                        "userErrors": [{"field": ["webhookSubscription", "uri"],
                                        "message": "Address is invalid"}]}}})
                topic, uri = variables.get("topic"), variables.get("uri")
                if any(w["topic"] == topic and w["uri"] == uri for w in store.webhooks.values()):
                    return jsonify({"data": {"webhookSubscriptionCreate": {
                        "webhookSubscription": None,
                        "userErrors": [{"field": ["webhookSubscription", "uri"],
                                        "message": "Address for this topic has already been taken"}]}}})
                gid = f"gid://shopify/WebhookSubscription/{next(self._ids)}"
                store.webhooks[gid] = {"id": gid, "topic": str(topic), "uri": str(uri)}
                return jsonify({"data": {"webhookSubscriptionCreate": {
                    "webhookSubscription": store.webhooks[gid], "userErrors": []}}})
            if operation == "webhookSubscriptionDelete":
                gid = str(variables.get("id"))
                if store.webhooks.pop(gid, None) is None:
                    return jsonify({"data": {"webhookSubscriptionDelete": {
                        "deletedWebhookSubscriptionId": None,
                        "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}}})
                return jsonify({"data": {"webhookSubscriptionDelete": {
                    "deletedWebhookSubscriptionId": gid, "userErrors": []}}})
            if operation == "webhookSubscriptions":
                # str(): a test may plant a malformed subscription without an id.
                nodes = sorted(store.webhooks.values(), key=lambda w: str(w.get("id")))
                start = int(variables.get("after") or 0)
                page = nodes[start:start + 2]  # small pages, so clients must follow the cursor
                has_next, cursor = self._page_info(variables.get("after"), start + 2, len(nodes))
                return jsonify({"data": {"webhookSubscriptions": {
                    "edges": [{"node": node} for node in page],
                    "pageInfo": {"hasNextPage": has_next, "endCursor": cursor}}}})
            return jsonify({"errors": [{"message": "Field doesn't exist", "extensions": {"code": "undefinedField"}}]})

        @app.get("/bulk-results/<token>.jsonl")
        def bulk_result(token: str):  # type: ignore[no-untyped-def]
            # A signed storage URL: no token; an unknown one is refused as an expired URL is.
            source = self.bulk_files.get(token)
            self.requests.append({"op": "bulk_result", "token": token})
            if source is None or self._take_failure("bulk_result") == 403:
                return Response("<Error><Code>AccessDenied</Code></Error>", status=403, content_type="application/xml")
            return Response(source(), content_type="application/jsonl")

        return app

    # -- products and customers ---------------------------------------------------------------
    # productCreate(product: ProductCreateInput!) / productUpdate(product: ProductUpdateInput!)
    # answer {product, userErrors}; a blank title, a taken handle or an unknown product id is a
    # userError; a field the input type does not define is a GraphQL error (top-level `errors`).
    # customer(id:) answers null for an unknown id; customers(query:, first:, after:) pages with
    # opaque cursors, `first` at most 250. fail_next("productCreate", "user_errors") forces a refusal.

    PRODUCT_INPUT_FIELDS = {"title", "descriptionHtml", "vendor", "productType", "handle", "tags", "status"}

    def add_customer(self, shop: str, number: int, *, first_name: str, last_name: str, email: str,
                     orders: int = 0, spent: str = "0.0", tags: tuple[str, ...] = ()) -> str:
        gid = f"gid://shopify/Customer/{number}"
        self.shops[shop].customers[gid] = {
            "id": gid, "firstName": first_name, "lastName": last_name,
            "defaultEmailAddress": {"emailAddress": email}, "numberOfOrders": str(orders),
            "amountSpent": {"amount": spent, "currencyCode": "USD"}, "tags": list(tags),
            "createdAt": "2026-01-05T10:00:00Z", "updatedAt": "2026-11-01T10:00:00Z"}
        return gid

    def _products_and_customers(self, shop: str, query: str, variables: dict[str, Any]) -> Any:
        operation = next((name for name in ("productCreate", "productUpdate", "customers(", "customer(")
                          if name in query), None)
        if operation is None:
            return None
        operation = operation.rstrip("(")
        self.requests.append({"op": operation, "shop": shop, "variables": variables})
        failure = self._take_failure(operation)
        if failure == "throttled":
            return jsonify({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
        if isinstance(failure, int):
            return jsonify({"errors": "Internal error"}), failure
        store = self.shops[shop]
        with self.lock:
            if operation in ("productCreate", "productUpdate"):
                return jsonify(self._product_mutation(store, operation, variables.get("product"), failure))
            if operation == "customer":
                return jsonify({"data": {"customer": store.customers.get(str(variables.get("id")))}})
            return jsonify(self._customer_search(store, variables))

    def _product_mutation(self, store: FakeShop, operation: str, product: Any, failure: Any) -> dict[str, Any]:
        def refused(field_name: str, message: str) -> dict[str, Any]:
            return {"data": {operation: {"product": None, "userErrors": [
                {"field": ["product", field_name], "message": message}]}}}

        if not isinstance(product, dict):
            return {"errors": [{"message": "Variable $product of type was provided invalid value",
                                "extensions": {"code": "INVALID_VARIABLE"}}]}
        unknown = set(product) - self.PRODUCT_INPUT_FIELDS - ({"id"} if operation == "productUpdate" else set())
        if unknown:
            return {"errors": [{"message": f"Field is not defined on the input: {sorted(unknown)}",
                                "extensions": {"code": "INVALID_VARIABLE"}}]}
        if failure == "user_errors":
            return refused("title", "Title is not allowed here")
        if "title" in product and not str(product["title"] or "").strip():
            return refused("title", "Title can't be blank")
        if operation == "productUpdate":
            current = store.products.get(str(product.get("id")))
            if current is None:
                return refused("id", "Product does not exist")
        else:
            gid = f"gid://shopify/Product/{next(self._ids)}"
            current = {"id": gid, "status": "ACTIVE", "handle": None}
        handle = product.get("handle")
        if handle and any(p["handle"] == handle and p["id"] != current["id"] for p in store.products.values()):
            return refused("handle", "Handle has already been taken")
        current.update({k: v for k, v in product.items() if k != "id"})
        if not current.get("handle"):
            current["handle"] = "-".join(str(current["title"]).lower().split())
        store.products[current["id"]] = current
        return {"data": {operation: {"product": {k: current.get(k) for k in ("id", "title", "handle", "status")},
                                     "userErrors": []}}}

    @staticmethod
    def _customer_search(store: FakeShop, variables: dict[str, Any]) -> dict[str, Any]:
        first = int(variables.get("first") or 0)
        if not 1 <= first <= 250:
            return {"errors": [{"message": "The first argument must be between 1 and 250",
                                "extensions": {"code": "BAD_REQUEST"}}]}
        term = str(variables.get("query") or "").strip().lower()

        def matches(customer: dict[str, Any]) -> bool:
            email = customer["defaultEmailAddress"]["emailAddress"].lower()
            if term.startswith("email:"):
                return email == term.removeprefix("email:")
            words = " ".join([customer["firstName"], customer["lastName"], email]).lower()
            return all(part in words for part in term.split())

        found = sorted((c for c in store.customers.values() if matches(c)), key=lambda c: c["id"])
        after = variables.get("after")
        start = int(base64.urlsafe_b64decode(str(after)).decode().removeprefix("at:")) if after else 0
        page = found[start:start + first]
        has_next = start + first < len(found)
        cursor = base64.urlsafe_b64encode(f"at:{start + first}".encode()).decode() if has_next else None
        return {"data": {"customers": {"nodes": page, "pageInfo": {"hasNextPage": has_next, "endCursor": cursor}}}}
