"""A fake Supabase Auth (GoTrue behind the gateway's /auth/v1), following its documented endpoints:

- every route lives under /auth/v1 and needs an `apikey` header, except GET /verify (the link a
  person clicks in an email);
- POST /token?grant_type=password {email, password} -> a session, or 400 invalid_credentials;
- POST /otp?redirect_to=… {email, create_user, code_challenge, code_challenge_method} -> 200 {}:
  remembers the challenge, a one-time `pkce_…` link token and a 6-digit code; 429
  over_email_send_rate_limit when asked again for the same email within 60 s;
- GET /verify?token=pkce_…&type=magiclink&redirect_to=X -> 303 to X?code=<uuid> (single use);
- POST /token?grant_type=pkce {auth_code, code_verifier}: base64url(sha256(verifier)) must equal
  the challenge (400 bad_code_verifier); a code works once (404 flow_state_not_found) within 300 s
  (422 flow_state_expired);
- POST /verify {email, token, type: email} -> a session (403 otp_expired for a wrong code);
- POST /token?grant_type=refresh_token {refresh_token}: refresh tokens rotate; a reused one is
  400 refresh_token_already_used;
- POST /logout (Bearer) -> 204, the session revoked; GET /user with a revoked session -> 403
  session_not_found.
Errors: with `X-Supabase-Api-Version: 2024-01-01` (what supabase-py sends) `{"code", "message"}`
and the header echoed, else the legacy `{"code": <status>, "error_code", "msg"}`; both set
`x-sb-error-code`. Access tokens are HS256 JWTs signed with the secret the service verifies.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Flask, Response, jsonify, redirect, request

API_VERSION = "2024-01-01"


@dataclass
class FakeUser:
    id: str
    email: str
    password: str | None


@dataclass
class FakeSupabaseAuth:
    jwt_secret: str
    anon_key: str = "fake-publishable-key"
    access_token_lifetime: int = 3600
    users: dict[str, FakeUser] = field(default_factory=dict)
    # link token -> (email, challenge, method, redirect_to)
    links: dict[str, tuple[str, str, str, str | None]] = field(default_factory=dict)
    otp_codes: dict[str, str] = field(default_factory=dict)
    otp_sent_at: dict[str, float] = field(default_factory=dict)
    # auth code -> (email, challenge, method, issued at)
    flow_states: dict[str, tuple[str, str, str, float]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked_sessions: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_user(self, user_id: str, email: str, password: str | None = None) -> FakeUser:
        user = self.users[email.lower()] = FakeUser(user_id, email, password)
        return user

    # -- what a test reads from the "email" -------------------------------------------------------

    def last_link(self, email: str) -> str:
        """The magic link GoTrue would email: /auth/v1/verify?token=pkce_…&type=magiclink&redirect_to=…"""
        for token, (owner, _, _, redirect_to) in reversed(list(self.links.items())):
            if owner == email.lower():
                query = {"token": token, "type": "magiclink"}
                if redirect_to:
                    query["redirect_to"] = redirect_to
                return f"{self.base}/auth/v1/verify?{urlencode(query)}"  # type: ignore[attr-defined]
        raise KeyError(email)

    def last_code(self, email: str) -> str:
        return self.otp_codes[email.lower()]

    # -- helpers -----------------------------------------------------------------------------------

    def error(self, status: int, code: str, message: str) -> Response:
        if request.headers.get("X-Supabase-Api-Version") == API_VERSION:
            response = jsonify({"code": code, "message": message})
            response.headers["X-Supabase-Api-Version"] = API_VERSION
        else:
            response = jsonify({"code": status, "error_code": code, "msg": message})
        response.status_code = status
        response.headers["x-sb-error-code"] = code
        return response

    def session(self, user: FakeUser, session_id: str | None = None, method: str = "password") -> dict[str, Any]:
        now = int(time.time())
        session_id = session_id or str(uuid.uuid4())
        claims = {"sub": user.id, "aud": "authenticated", "role": "authenticated", "email": user.email,
                  "phone": "", "iat": now, "exp": now + self.access_token_lifetime,
                  "iss": f"{self.base}/auth/v1", "aal": "aal1",  # type: ignore[attr-defined]
                  "amr": [{"method": method, "timestamp": now}], "session_id": session_id,
                  "is_anonymous": False, "app_metadata": {"provider": "email", "providers": ["email"]},
                  "user_metadata": {}}
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = {"email": user.email.lower(), "session_id": session_id, "used": False}
        return {"access_token": jwt.encode(claims, self.jwt_secret, algorithm="HS256"), "token_type": "bearer",
                "expires_in": self.access_token_lifetime, "expires_at": now + self.access_token_lifetime,
                "refresh_token": refresh, "user": self.user_json(user)}

    @staticmethod
    def user_json(user: FakeUser) -> dict[str, Any]:
        return {"id": user.id, "aud": "authenticated", "role": "authenticated", "email": user.email, "phone": "",
                "app_metadata": {"provider": "email", "providers": ["email"]}, "user_metadata": {},
                "identities": [], "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "is_anonymous": False}

    def _bearer_claims(self) -> dict[str, Any] | Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self.error(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = jwt.decode(header[7:], self.jwt_secret, algorithms=["HS256"], audience="authenticated")
        except jwt.PyJWTError:
            return self.error(403, "bad_jwt", "invalid JWT: unable to parse or verify signature")
        if claims.get("session_id") in self.revoked_sessions:
            return self.error(403, "session_not_found", "Session from session_id claim in JWT does not exist")
        return claims

    def app(self) -> Flask:
        app = Flask("fake_supabase_auth")

        @app.before_request
        def record_and_require_key():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True) if request.is_json else None
            self.requests.append({"method": request.method, "path": request.path, "args": request.args.to_dict(),
                                  "json": body, "apikey": request.headers.get("apikey")})
            if request.path == "/auth/v1/verify" and request.method == "GET":
                return None  # the link in the email: opened by a browser, with no headers
            if request.headers.get("apikey") != self.anon_key:
                return self.error(401, "no_api_key", "No API key found in request")
            return None

        @app.post("/auth/v1/token")
        def token():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True) or {}
            grant = request.args.get("grant_type")
            with self.lock:
                if grant == "password":
                    user = self.users.get(str(body.get("email", "")).lower())
                    if user is None or user.password is None or user.password != body.get("password"):
                        return self.error(400, "invalid_credentials", "Invalid login credentials")
                    return jsonify(self.session(user))
                if grant == "pkce":
                    code, verifier = body.get("auth_code"), body.get("code_verifier")
                    if not code or not verifier:
                        return self.error(400, "validation_failed", "invalid request: both auth code and code "
                                                                    "verifier should be non-empty")
                    state = self.flow_states.get(str(code))
                    if state is None:
                        return self.error(404, "flow_state_not_found", "invalid flow state, no valid flow state found")
                    email, challenge, method, issued = state
                    if time.time() - issued > 300:
                        return self.error(422, "flow_state_expired", "flow state has expired")
                    computed = (base64.urlsafe_b64encode(hashlib.sha256(str(verifier).encode()).digest())
                                .decode().rstrip("=") if method.lower() == "s256" else str(verifier))
                    if computed != challenge:
                        return self.error(400, "bad_code_verifier", "code challenge does not match previously "
                                                                    "saved code verifier")
                    del self.flow_states[str(code)]
                    return jsonify(self.session(self.users[email], method="magiclink"))
                if grant == "refresh_token":
                    presented = body.get("refresh_token")
                    if not presented:
                        return jsonify({"error": "invalid_request", "error_description": "refresh_token required"}), 400
                    entry = self.refresh_tokens.get(str(presented))
                    if entry is None:
                        return self.error(400, "refresh_token_not_found",
                                          "Invalid Refresh Token: Refresh Token Not Found")
                    if entry["session_id"] in self.revoked_sessions:
                        return self.error(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found")
                    if entry["used"]:
                        return self.error(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
                    entry["used"] = True
                    return jsonify(self.session(self.users[entry["email"]], entry["session_id"]))
            return self.error(400, "invalid_credentials", "unsupported_grant_type")

        @app.post("/auth/v1/otp")
        def otp():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True) or {}
            email = str(body.get("email", "")).lower()
            challenge, method = body.get("code_challenge"), body.get("code_challenge_method")
            if bool(challenge) != bool(method):
                return self.error(400, "validation_failed", "PKCE flow requires code_challenge_method and code_challenge")
            if "@" not in email:
                return self.error(400, "validation_failed", "Unable to validate email address: invalid format")
            with self.lock:
                if email not in self.users:
                    if body.get("create_user") is False:
                        return self.error(422, "otp_disabled", "Signups not allowed for otp")
                    self.add_user(str(uuid.uuid4()), email)
                if time.time() - self.otp_sent_at.get(email, 0) < 60:
                    return self.error(429, "over_email_send_rate_limit",
                                      "For security purposes, you can only request this after 60 seconds.")
                self.otp_sent_at[email] = time.time()
                token = f"pkce_{secrets.token_hex(16)}" if challenge else secrets.token_hex(16)
                self.links[token] = (email, str(challenge or ""), str(method or ""), request.args.get("redirect_to"))
                self.otp_codes[email] = f"{secrets.randbelow(10**6):06d}"
            return jsonify({})

        @app.get("/auth/v1/verify")
        def verify_link():  # type: ignore[no-untyped-def]
            token = request.args.get("token", "")
            with self.lock:
                link = self.links.pop(token, None)
                if link is None:
                    target = request.args.get("redirect_to") or "/"
                    return redirect(f"{target}?error=access_denied&error_code=otp_expired", code=303)
                email, challenge, method, redirect_to = link
                code = str(uuid.uuid4())
                self.flow_states[code] = (email, challenge, method, time.time())
            return redirect(f"{request.args.get('redirect_to') or redirect_to}?code={code}", code=303)

        @app.post("/auth/v1/verify")
        def verify_code():  # type: ignore[no-untyped-def]
            body = request.get_json(silent=True) or {}
            email, code = str(body.get("email", "")).lower(), str(body.get("token", ""))
            with self.lock:
                expected = self.otp_codes.get(email)
                if body.get("type") != "email" or expected is None or not secrets.compare_digest(expected, code):
                    return self.error(403, "otp_expired", "Token has expired or is invalid")
                del self.otp_codes[email]
                return jsonify(self.session(self.users[email], method="otp"))

        @app.post("/auth/v1/logout")
        def logout():  # type: ignore[no-untyped-def]
            claims = self._bearer_claims()
            if isinstance(claims, Response):
                return claims
            self.revoked_sessions.add(str(claims["session_id"]))
            return Response(status=204)

        @app.get("/auth/v1/user")
        def user():  # type: ignore[no-untyped-def]
            claims = self._bearer_claims()
            if isinstance(claims, Response):
                return claims
            found = self.users.get(str(claims.get("email", "")).lower())
            if found is None:
                return self.error(403, "user_not_found", "User from sub claim in JWT does not exist")
            return jsonify(self.user_json(found))

        return app
