"""The service skeleton: health, JSON errors, JWT verification, the caller's identity."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.app import create_app
from service.auth import sign_dev_token
from service.db import Database

from .conftest import JWT_SECRET


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_gone(settings):
    dead = Database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1", min_size=0, max_size=1)
    app = create_app(replace(settings, database_url=dead.url), database=dead)
    try:
        response = app.test_client().get("/healthz")
    finally:
        dead.close()
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"


def test_healthz_answers_503_when_new_connections_fail_though_pooled_ones_work(client, db, cluster, database_url):
    with db.connection() as conn:  # a pooled connection that stays healthy throughout
        conn.execute("select 1")
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f'alter database "{name}" allow_connections false')
        try:
            refused = client.get("/healthz")
            with db.connection() as conn:
                conn.execute("select 1")  # the pool did not notice anything
        finally:
            admin.execute(f'alter database "{name}" allow_connections true')
    assert refused.status_code == 503 and refused.json["database"] == "unreachable"
    assert client.get("/healthz").status_code == 200


def test_unknown_route_answers_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.is_json and response.json["error"] == "not_found"


def test_wrong_method_answers_json_405(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.is_json and "GET" in response.headers["Allow"]


def test_me_returns_the_verified_caller(client, user):
    response = client.get("/api/me", headers=user.headers)
    assert response.status_code == 200
    assert response.json == {"id": user.id, "email": user.email, "role": "authenticated"}


@pytest.mark.parametrize("headers, code", [
    ({}, "missing_token"),
    ({"Authorization": "Basic abc"}, "missing_token"),
    ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
])
def test_me_without_a_usable_token_is_401_json(client, headers, code):
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == code


def test_token_signed_with_the_wrong_secret_is_401(client, user):
    forged = sign_dev_token("another-secret-of-sufficient-length-0123456789", user.id, user.email)
    response = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "invalid_token"


def test_expired_token_is_401(client, user):
    old = sign_dev_token(JWT_SECRET, user.id, user.email, issued_at=int(time.time()) - 7200, lifetime_seconds=60)
    response = client.get("/api/me", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401 and response.json["error"] == "token_expired"


def test_wrong_audience_is_401(client, user):
    anon = sign_dev_token(JWT_SECRET, user.id, user.email, audience="anon")
    response = client.get("/api/me", headers={"Authorization": f"Bearer {anon}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_alg_none_is_refused(client, user):
    unsigned = jwt.encode({"sub": user.id, "aud": "authenticated", "exp": int(time.time()) + 60},
                          key=None, algorithm="none")
    response = client.get("/api/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401


class _JwksServer:
    """Serves a JWKS document on loopback, counting fetches (the verifier must cache)."""

    def __init__(self, jwks: dict) -> None:
        body = json.dumps(jwks).encode()
        outer = self
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/auth/v1/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "_JwksServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _private_key(algorithm: str):  # type: ignore[no-untyped-def]
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_asymmetric_tokens_verify_through_a_cached_jwks(settings, db, user, algorithm):
    private_key = _private_key(algorithm)
    public_jwk = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(private_key.public_key()))
    public_jwk.update({"kid": "key-1", "alg": algorithm, "use": "sig"})
    claims = {"sub": user.id, "email": user.email, "aud": "authenticated", "role": "authenticated",
              "exp": int(time.time()) + 600}
    token = jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": "key-1"})
    forged = jwt.encode(claims, _private_key(algorithm), algorithm=algorithm, headers={"kid": "key-1"})
    with _JwksServer({"keys": [public_jwk]}) as jwks:
        app = create_app(replace(settings, supabase_jwks_url=jwks.url), database=db)
        client = app.test_client()
        for _ in range(3):
            response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and response.json["id"] == user.id
        assert client.get("/api/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert jwks.fetches == 1


def test_tokens_with_unknown_key_ids_cannot_make_us_refetch_the_keys_each_time(settings, db, user):
    private_key = _private_key("ES256")
    public_jwk = json.loads(jwt.algorithms.get_default_algorithms()["ES256"].to_jwk(private_key.public_key()))
    public_jwk.update({"kid": "key-1", "alg": "ES256", "use": "sig"})
    claims = {"sub": user.id, "aud": "authenticated", "exp": int(time.time()) + 600}
    with _JwksServer({"keys": [public_jwk]}) as jwks:
        client = create_app(replace(settings, supabase_jwks_url=jwks.url), database=db).test_client()
        for n in range(5):
            unknown = jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": f"nobody-{n}"})
            response = client.get("/api/me", headers={"Authorization": f"Bearer {unknown}"})
            assert response.status_code == 401 and response.json["error"] == "invalid_token"
        assert jwks.fetches <= 2  # the first fetch, and at most one refresh per cool-down (30 s)


@pytest.mark.parametrize(("key_algorithm", "token_algorithm"), [("ES256", "RS256"), ("RS256", "ES256")])
def test_a_token_whose_algorithm_does_not_fit_its_key_is_401(settings, db, user, key_algorithm, token_algorithm):
    private_key = _private_key(key_algorithm)
    public_jwk = json.loads(jwt.algorithms.get_default_algorithms()[key_algorithm].to_jwk(private_key.public_key()))
    public_jwk.update({"kid": "key-1", "use": "sig"})  # no "alg": the key's type alone says what it signs
    claims = {"sub": user.id, "aud": "authenticated", "exp": int(time.time()) + 600}
    # Signed with a key of the type the header claims: only the kid points at the wrong type.
    token = jwt.encode(claims, _private_key(token_algorithm), algorithm=token_algorithm, headers={"kid": "key-1"})
    with _JwksServer({"keys": [public_jwk]}) as jwks:
        client = create_app(replace(settings, supabase_jwks_url=jwks.url), database=db).test_client()
        response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_every_request_is_logged_once_with_its_id_and_the_id_is_answered(client, caplog):
    caplog.set_level("INFO", logger="haven.requests")
    response = client.get("/livez?code=secret-oauth-code", headers={"X-Request-Id": "proxy-given-id-1234"})
    assert response.headers["X-Request-Id"] == "proxy-given-id-1234"
    [line] = [r for r in caplog.records if r.name == "haven.requests"]
    assert (line.request_id, line.method, line.path, line.status) == ("proxy-given-id-1234", "GET", "/livez", 200)
    assert "secret-oauth-code" not in line.getMessage()
    assert len(client.get("/livez", headers={"X-Request-Id": "bad id!"}).headers["X-Request-Id"]) == 16


def test_json_lines_carry_the_time_and_the_request_fields():
    import logging

    from service.logs import JsonLines

    record = logging.LogRecord("haven.requests", logging.INFO, __file__, 1, "GET /x 200", (), None)
    record.request_id, record.status = "abc12345", 200
    line = json.loads(JsonLines().format(record))
    assert line["request_id"] == "abc12345" and line["status"] == 200 and line["time"].endswith("Z")
    assert line["level"] == "info" and line["message"] == "GET /x 200"
