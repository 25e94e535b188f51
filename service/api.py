"""Declared endpoints: one decorator validates a route's input with pydantic models and records
the same models for the OpenAPI document, so the document cannot drift from what is enforced.

    @bp.get("/api/errors")
    @endpoint(summary="List queue items", query=ErrorsQuery, response=ErrorsPage)
    def list_errors(query: ErrorsQuery) -> ErrorsPage: ...

The view receives `query` and/or `body` as validated models (and `caller` when it asks for it);
returning a model (or a dict that the response model accepts) answers JSON with `status`.
Views that stream or redirect return a Flask response and declare `produces`/`status` instead.
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import PydanticCustomError, core_schema

from .auth import current_caller
from .errors import BadRequest

F = TypeVar("F", bound=Callable[..., Any])
SPEC_ATTRIBUTE = "haven_endpoint"
NUL_PROBLEM = "must not contain a NUL character (U+0000)"
SURROGATE_PROBLEM = "must be Unicode text: an unpaired surrogate (U+D800-U+DFFF) cannot be stored"


class Strict(BaseModel):
    """Base for request models: unknown fields are an error, not silently dropped, and strings are
    taken as sent (never trimmed), so what the JSON Schema says of a string is what is checked. No
    string may hold NUL (U+0000) or an unpaired surrogate (JSON's "\\ud800" alone): Postgres text
    and jsonb cannot store either, and refusing it here gives a 400 that names the field instead of a
    database or encoding error later. The document states the NUL rule (`StatedJsonSchema`)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        found = _unstorable_in(value)
        if found is not None:
            where, problem = found
            raise PydanticCustomError("unstorable_text", problem + "{where}",
                                      {"where": f" at {where}" if where else ""})
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_PROBLEM
    if _SURROGATE.search(text):
        return SURROGATE_PROBLEM
    return None


def _unstorable_in(value: Any, where: str = "") -> tuple[str, str] | None:
    """(where, what is wrong) for the first string of a validated value Postgres cannot store
    ("" for the value itself), or None."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        problem = _text_problem(value)
        return None if problem is None else (where, problem)
    if isinstance(value, dict):
        parts = [(f"{where} (a key)", key) for key in value] + [(f"{where}[{key!r}]", part)
                                                                 for key, part in value.items()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = [(f"{where}[{index}]", part) for index, part in enumerate(value)]
    else:
        return None  # not text; a nested model checked its own fields, naming them
    return next((found for path, part in parts if (found := _unstorable_in(part, path)) is not None), None)


NO_NUL_PATTERN = "^[^\\u0000]*$"
# Whitespace as a regex class body, spelled out: Python's str.isspace() characters. Rust's, Python's
# and ECMA's `\s` each mean a slightly different set, and a pattern must mean one thing to the
# service, the document and the test generators alike.
WHITESPACE = "\\t\\n\\x0b\\x0c\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# An email address as SQL's CHECKs state it: one @, a dot after it, no whitespace.
ADDRESS_PATTERN = f"^[^@{WHITESPACE}]+@[^@{WHITESPACE}]+\\.[^@{WHITESPACE}]+$"


class StatedJsonSchema(GenerateJsonSchema):
    """The JSON Schema of request models, stating what Strict refuses: every string is free of NUL."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        stated = super().str_schema(schema)
        if "pattern" in stated:
            stated = {**stated, "allOf": [*stated.get("allOf", []), {"pattern": NO_NUL_PATTERN}]}
        else:
            stated["pattern"] = NO_NUL_PATTERN
        return stated


class ErrorBody(BaseModel):
    error: str
    message: str
    details: Any | None = None


@dataclass(frozen=True)
class Endpoint:
    summary: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    produces: tuple[str, ...] = ("application/json",)
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    description: str | None = None
    extra_responses: dict[int, str] = field(default_factory=dict)
    # Path parameter -> the values it may take, read when the document is made (inside an app
    # context: e.g. the app's provider catalog), or the JSON Schema of its values (a mapping, e.g.
    # a pattern). The view still refuses any other value with a 400.
    path: Mapping[str, Callable[[], Sequence[str] | Mapping[str, Any]]] = field(default_factory=dict)


def endpoint(summary: str, *, query: type[BaseModel] | None = None, body: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, status: int = 200, auth: bool = True,
             produces: tuple[str, ...] = ("application/json",), errors: tuple[int, ...] = (),
             tags: tuple[str, ...] = (), description: str | None = None,
             extra_responses: dict[int, str] | None = None,
             path: Mapping[str, Callable[[], Sequence[str] | Mapping[str, Any]]] | None = None
             ) -> Callable[[F], F]:
    spec = Endpoint(summary, query, body, response, status, auth, produces, errors, tags,
                    description, extra_responses or {}, dict(path or {}))

    def decorate(view: F) -> F:
        wants = inspect.signature(view).parameters

        @wraps(view)
        def wrapper(**path_args: Any) -> Any:
            kwargs = dict(path_args)
            if spec.auth:
                caller = current_caller()
                if "caller" in wants:
                    kwargs["caller"] = caller
            # Path parameters bypass the models, and psycopg refuses NUL in text before Postgres sees it.
            unstorable = [(name, found[1]) for name, value in path_args.items()
                          if (found := _unstorable_in(value)) is not None]
            if unstorable:
                raise BadRequest("the request is not valid", code="invalid_request",
                                 details=[{"field": name, "problem": problem} for name, problem in unstorable])
            if spec.query is not None:
                kwargs["query"] = spec.query.model_validate(request.args.to_dict(flat=True))
            if spec.body is not None:
                payload = request.get_json(silent=True)
                if not isinstance(payload, dict):
                    raise BadRequest("the request body must be a JSON object", code="invalid_request")
                kwargs["body"] = spec.body.model_validate(payload)
            result = view(**kwargs)
            if isinstance(result, (Response, tuple)):
                return result
            if spec.response is not None and not isinstance(result, spec.response):
                result = spec.response.model_validate(result)
            if isinstance(result, BaseModel):
                return jsonify(result.model_dump(mode="json")), spec.status
            return jsonify(result), spec.status

        setattr(wrapper, SPEC_ATTRIBUTE, spec)
        return wrapper  # type: ignore[return-value]

    return decorate


def spec_of(app: Flask, endpoint_name: str) -> Endpoint | None:
    return getattr(app.view_functions.get(endpoint_name), SPEC_ATTRIBUTE, None)


PAGE_ATTRIBUTE = "haven_page"


def page(view: F) -> F:
    """Marks a console route (HTML for browsers, service/console/): not part of the JSON API, so
    not in its OpenAPI document. Pages validate their own forms and answer in words."""
    setattr(view, PAGE_ATTRIBUTE, True)
    return view


def is_page(app: Flask, endpoint_name: str) -> bool:
    return bool(getattr(app.view_functions.get(endpoint_name), PAGE_ATTRIBUTE, False))


def undocumented_routes(app: Flask) -> list[str]:
    """Routes that are neither declared API endpoints nor console pages."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and spec_of(app, rule.endpoint) is None
                  and not is_page(app, rule.endpoint))


_PATH_PARAM = re.compile(r"<(?:(?P<converter>[a-z_]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMA = {"int": {"type": "integer"}, "uuid": {"type": "string", "format": "uuid"}}


def _path_schema(spec: Endpoint, name: str, converter: str | None) -> dict[str, Any]:
    allowed = spec.path.get(name)
    if allowed is not None:
        values = allowed()
        if isinstance(values, Mapping):
            return {"type": "string", **values}
        return {"type": "string", "enum": list(values)}
    return dict(_CONVERTER_SCHEMA.get(converter or "", {"type": "string"}))


def openapi_document(app: Flask, title: str = "Haven Hub core API", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route of `app`."""
    with app.app_context():  # path parameters' values come from the app (e.g. its provider catalog)
        return _document(app, title, version)


def _document(app: Flask, title: str, version: str) -> dict[str, Any]:
    routes = [(rule, spec) for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
              if (spec := spec_of(app, rule.endpoint)) is not None]
    models = {ErrorBody}
    for _, spec in routes:
        models.update(m for m in (spec.query, spec.body, spec.response) if m is not None)
    keyed = [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)]
    schemas_by_key, definitions = models_json_schema(keyed, ref_template="#/components/schemas/{model}",
                                                     schema_generator=StatedJsonSchema)
    schemas = dict(definitions.get("$defs", {}))

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return schemas_by_key[(model, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    for rule, spec in routes:
        path = _PATH_PARAM.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        parameters = [
            {"name": m["name"], "in": "path", "required": True, "schema": _path_schema(spec, m["name"], m["converter"])}
            for m in _PATH_PARAM.finditer(rule.rule)
        ]
        if spec.query is not None:
            query_schema = spec.query.model_json_schema(schema_generator=StatedJsonSchema)
            required = set(query_schema.get("required", []))
            for name, schema in query_schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required,
                                   "schema": schema, "description": schema.get("description", "")})
        responses: dict[str, Any] = {}
        if spec.response is not None:
            responses[str(spec.status)] = {"description": spec.summary,
                                           "content": {"application/json": {"schema": ref(spec.response)}}}
        else:
            responses[str(spec.status)] = {"description": spec.summary,
                                           "content": {media: {} for media in spec.produces}}
        for status, text in spec.extra_responses.items():
            responses[str(status)] = {"description": text}
        error_statuses = set(spec.errors) | ({401} if spec.auth else set())
        if spec.query is not None or spec.body is not None or spec.path:
            error_statuses.add(400)
        if spec.body is not None:
            error_statuses.add(413)  # a body past HAVEN_MAX_REQUEST_BYTES, refused before it is read
        for status in sorted(error_statuses):
            responses[str(status)] = {"description": "error",
                                      "content": {"application/json": {"schema": ref(ErrorBody)}}}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {"summary": spec.summary, "operationId": f"{rule.endpoint}.{method.lower()}",
                                         "parameters": parameters, "responses": responses}
            if spec.tags:
                operation["tags"] = list(spec.tags)
            if spec.description:
                operation["description"] = spec.description
            if spec.auth:
                operation["security"] = [{"supabaseJwt": []}]
            if spec.body is not None:
                operation["requestBody"] = {"required": True,
                                            "content": {"application/json": {"schema": ref(spec.body)}}}
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"supabaseJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                "description": "The user's Supabase access token"}},
        },
    }
