"""The OpenAPI document is generated from the same models that validate input."""
from __future__ import annotations

import re

from service.api import is_page, undocumented_routes


def test_every_route_is_declared(app):
    assert undocumented_routes(app) == []


def test_document_lists_every_route_and_method(app, client):
    document = client.get("/api/openapi.json").json
    assert document["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or is_page(app, rule.endpoint):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in document["paths"], rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], (rule.rule, method)


def test_document_references_resolve(client):
    document = client.get("/api/openapi.json").json
    schemas = document["components"]["schemas"]

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert document["paths"]["/api/me"]["get"]["security"] == [{"supabaseJwt": []}]


def test_console_pages_stay_out_of_the_api_document(app, client):
    document = client.get("/api/openapi.json").json
    pages = [rule.rule for rule in app.url_map.iter_rules() if is_page(app, rule.endpoint)]
    assert "/console/sign-in" in pages
    assert not any(path.startswith("/console") for path in document["paths"])
