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


def test_the_document_states_what_each_parameter_and_body_may_be(app, client):
    document = client.get("/api/openapi.json").json
    paths, schemas = document["paths"], document["components"]["schemas"]

    def path_enum(path: str, method: str, name: str) -> list[str]:
        [parameter] = [p for p in paths[path][method]["parameters"] if p["name"] == name]
        return parameter["schema"]["enum"]

    catalog = app.extensions["haven"].providers
    assert path_enum("/api/integrations/{provider}/connect", "post", "provider") == [
        p.name for p in catalog if p.auth_type == "api_key"]
    assert path_enum("/api/integrations/{provider}", "delete", "provider") == list(catalog.names)
    assert "400" in paths["/api/integrations/{provider}"]["delete"]["responses"]
    assert path_enum("/api/settings/setup-progress/{step}", "patch", "step")[-3:] == [
        "design_rules", "operator_mode", "import"]
    [export_type] = [p for p in paths["/api/export"]["get"]["parameters"] if p["name"] == "type"]
    assert export_type["required"] and "" not in export_type["schema"]["enum"]
    assert schemas["ScheduleUpdate"]["minProperties"] == 1
    assert schemas["ScheduleCreate"]["properties"]["export_type"]["enum"] == export_type["schema"]["enum"]
    assert {"required": ["use_defaults"]} in schemas["DesignRulesUpdate"]["oneOf"]
    # Strings that Strict refuses NUL in say so.
    assert schemas["OperatorModeUpdate"]["properties"]["operator_mode"]["enum"]
    assert "\\u0000" in schemas["PrintFormat"]["properties"]["aspect_ratio"]["allOf"][0]["pattern"]
    assert paths["/api/errors"]["get"]["parameters"][2]["schema"]["maximum"] == 1_000_000
    # Every body may be too large (413, before it is read).
    assert all("413" in operation["responses"] for methods in paths.values() for operation in methods.values()
               if "requestBody" in operation)
    assert "413" in paths["/api/webhooks/shopify"]["post"]["responses"]
