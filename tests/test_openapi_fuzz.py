"""The OpenAPI document says exactly what the service accepts: a bounded, seeded property-based
run of schemathesis over every operation of /api/openapi.json, against the Flask app in process
(WSGI) on a fresh test database, each generated request sent with a valid token and without one.

Checked for every answer: no 5xx; every status and body is one the operation documents. Requests
generated to fit the schema (positive) must not be refused with a 400; requests generated not to
fit it (negative) must be refused with a 4xx.

A few rules relate one parameter to another, which OpenAPI cannot state; each operation's
description states them, and `_within_cross_parameter_rules` makes positive requests keep them
(nothing else is excused). The providers are local fakes that accept any key (a key the provider
refuses is a credential that does not exist, which no schema promises) and no request leaves the
machine. Bounded: MAX_EXAMPLES per operation and mode, a fixed seed; HAVEN_FUZZ_SEED and
HAVEN_FUZZ_EXAMPLES choose others (e.g. a reviewer's own seeds).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.exports.catalog import EXPORT_CONFIGS
from service.integrations import records
from service.providers.sky_pilot import KEY_FORMAT
from tests.fakes.dynamic_mockups import FakeDynamicMockups
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.resend import FakeResend
from tests.support.flow import registry_for, worker_context

SEED = int(os.environ.get("HAVEN_FUZZ_SEED", "15"))
MAX_EXAMPLES = int(os.environ.get("HAVEN_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          positive_data_acceptance, negative_data_rejection]
LOOPBACK_NOBODY = "http://127.0.0.1:9"  # the discard port: nothing listens, and nothing here calls it


class EveryKey(set[str]):
    """A provider's set of valid keys that holds every key."""

    def __contains__(self, key: object) -> bool:
        return True

    def __or__(self, other: object) -> EveryKey:  # type: ignore[override]
        return self

    __ror__ = __or__  # type: ignore[assignment]


@pytest.fixture
def fuzz_app(settings: Settings, db: Database, httpserver) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    fakes = [FakeKlaviyo(httpserver), FakeResend(httpserver), FakeDynamicMockups(httpserver)]
    for fake in fakes:
        fake.keys = EveryKey()
    base = httpserver.url_for("/").rstrip("/")
    configured = replace(
        settings, klaviyo_api_base=base, resend_api_base=base, dynamic_mockups_api_base=base,
        api_key_check_timeout_seconds=2.0,
        # Configured, so install and callback run their own checks; their upstreams are never reached
        # (an install only builds a URL; a callback stops at the HMAC or the state).
        shopify_client_id="fuzz-client", shopify_client_secret="fuzz-secret",
        shopify_base_url=LOOPBACK_NOBODY + "/{shop}", pinterest_client_id="fuzz-client",
        pinterest_client_secret="fuzz-secret", pinterest_api_base=LOOPBACK_NOBODY,
        pinterest_oauth_url=LOOPBACK_NOBODY + "/oauth/", public_url="http://hub.test")
    app = create_app(configured, database=db)
    app.testing = True
    # A cap that generated requests do not reach, so a 409 limit_reached never hides what a
    # request would otherwise get (the cap has tests of its own).
    uncapped = replace(configured, export_schedules_per_user=1_000_000)
    registry_for(uncapped).periodic_jobs["limits.sync"].run(worker_context(uncapped, db))
    yield app
    for fake in fakes:
        fake.close()


@pytest.fixture
def fuzz_user(user, db: Database):  # type: ignore[no-untyped-def]
    """The caller, with Resend connected (so email schedules are not refused for want of a sender)."""
    with db.as_service() as conn:
        records.mark_connected(conn, user.id, "resend", metadata={"from_email": "exports@haven.test"},
                               credentials={"api_key": "re_fuzz_key_0001"})
    return user


def _within_cross_parameter_rules(case: Any) -> None:
    """Makes a positive request keep the rules between parameters its operation's description states."""
    path, method = case.operation.path, case.operation.method.upper()
    if (method, path) == ("GET", "/api/export") and isinstance(case.query, dict):
        query = case.query
        config = EXPORT_CONFIGS.get(query.get("type", ""))
        if config is not None and isinstance(query.get("fields"), str):
            keys = list(dict.fromkeys(k for k in query["fields"].split(",") if config.field(k) is not None))
            if keys:
                query["fields"] = ",".join(keys)
            else:
                del query["fields"]
        try:
            limit = float(query["limit"])  # an integer may come as 21600 or 21600.0
        except (KeyError, TypeError, ValueError):
            limit = None
        if config is not None and limit is not None and limit > config.max_records:
            query["limit"] = config.max_records
        if "startDate" in query and "endDate" in query:
            del query["endDate"]  # startDate after endDate is refused; one bound alone never is
    if (method, path) == ("POST", "/api/integrations/{provider}/connect") and isinstance(case.body, dict):
        provider = case.path_parameters.get("provider")
        if provider != "resend":
            case.body.pop("from_email", None)
        key = case.body.get("api_key")
        if provider == "sky_pilot" and not (isinstance(key, str) and KEY_FORMAT.fullmatch(key.strip())):
            case.body["api_key"] = "sp_live_0123456789abcdef"  # Sky Pilot's own check is its key format
    if (method, path) == ("PUT", "/api/settings/design-rules") and isinstance(case.body, dict):
        rules = case.body.get("design_rules")
        if isinstance(rules, dict):
            colour = rules["color"]
            colour["default_palette"] = colour["default_palette"][:int(colour["max_palette_colors"])]
            for index, print_format in enumerate(rules["print_formats"]):
                print_format["name"] = f"{index}-{print_format['name']}"[:40]


def _send(case: Any, token: str) -> None:
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        _within_cross_parameter_rules(case)
    # A case whose headers were broken on purpose (the only header is the bearer token) is sent as
    # generated: a valid token on top of it would undo what it tests.
    headers_broken = case.meta is not None and (
        (component := case.meta.components.get(ParameterLocation.HEADER)) is not None
        and component.mode.is_negative)
    for headers in ({} if headers_broken else {"Authorization": f"Bearer {token}"}, {}):
        case.call_and_validate(headers=headers, checks=CHECKS)


def _failure(label: str, failure: BaseException) -> str:
    return f"{label}: {type(failure).__name__}: " + "\n".join(str(failure).splitlines()[:24])


def _operations(app: Flask) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    return operations


def test_boundary_cases_of_every_operation(fuzz_app, fuzz_user):  # type: ignore[no-untyped-def]
    """Schemathesis's coverage phase: each parameter and property at its bounds, just past them,
    missing, of the wrong type; deterministic."""
    failures: list[str] = []
    for operation in _operations(fuzz_app):
        schema = operation.schema
        for case in schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                               generation_config=schema.config.generation_for(operation=operation)):
            try:
                _send(case, fuzz_user.token)
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - all reported together
                failures.append(_failure(f"{operation.label} {case.meta.phase.data if case.meta else ''}", failure))
    assert failures == [], "\n\n".join(failures[:20]) + f"\n({len(failures)} failures)"


def test_generated_requests_to_every_operation(fuzz_app, fuzz_user):  # type: ignore[no-untyped-def]
    """Schemathesis's fuzzing: MAX_EXAMPLES requests per operation that fit its schema, and as many
    that do not, from a fixed seed."""
    failures: list[str] = []
    for operation in _operations(fuzz_app):
        for mode in GenerationMode:
            @hypothesis.seed(SEED)
            @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                                 suppress_health_check=list(HealthCheck), print_blob=False)
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                _send(case, fuzz_user.token)

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                continue  # no request can break the schema of an operation that takes nothing
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - all reported together
                failures.append(_failure(f"{operation.label} [{mode.value}]", failure))
    assert failures == [], "\n\n".join(failures)
