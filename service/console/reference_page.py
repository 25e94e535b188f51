"""A browsable API reference, rendered on the server from the same OpenAPI document that
/api/openapi.json serves (service/api.py builds it from the routes' own models)."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app

from ..api import openapi_document
from . import web

bp = web.blueprint("console_reference")
METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _document() -> dict[str, Any]:
    document = current_app.extensions.get("haven.openapi")
    if document is None:
        document = current_app.extensions["haven.openapi"] = openapi_document(current_app)
    return document  # type: ignore[no-any-return]


def _schema(document: dict[str, Any], node: dict[str, Any] | None) -> dict[str, Any]:
    """A schema with its top-level $ref resolved (one level: enough for a field table)."""
    if not node:
        return {}
    ref = node.get("$ref")
    if ref:
        return dict(document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}))
    return node


def type_of(document: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human type: `string`, `integer`, `one of: a, b`, `list of X`, a model's name."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if "anyOf" in schema:
        parts = [type_of(document, s) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(parts) + (" (or null)" if nullable else "")
    if schema.get("type") == "array":
        return "list of " + type_of(document, schema.get("items", {}))
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, methods in sorted(document["paths"].items()):
        for method in METHOD_ORDER:
            operation = methods.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body_schema = _schema(document, body)
            found.append({
                "id": operation["operationId"].replace(".", "-"), "method": method.upper(), "path": path,
                "summary": operation["summary"], "description": operation.get("description"),
                "tag": (operation.get("tags") or ["other"])[0], "auth": bool(operation.get("security")),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": type_of(document, p.get("schema", {})),
                                "description": p.get("description") or p.get("schema", {}).get("description", "")}
                               for p in operation.get("parameters", [])],
                "body": [{"name": name, "type": type_of(document, field),
                          "required": name in body_schema.get("required", []),
                          "description": field.get("description", "")}
                         for name, field in body_schema.get("properties", {}).items()],
                "responses": [(status, answer.get("description", "")) for status, answer
                              in sorted(operation.get("responses", {}).items())],
            })
    return found


@bp.get("/console/api")
@web.signed_in
def reference() -> Response:
    document = _document()
    found = operations(document)
    tags = sorted({op["tag"] for op in found})
    return web.render("api_reference.html", info=document["info"], operations=found, tags=tags)
