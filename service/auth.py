"""Supabase JWT verification: the legacy HS256 secret, or the project's asymmetric keys (JWKS).

The service trusts a user id only from a token it has verified itself: signature, expiry,
audience and a subject. Which key verifies a token is decided by the token's `alg`, from a
fixed allow-list, never `none`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import jwt
from flask import g, request

from .config import Settings
from .context import services
from .errors import Unauthorized

log = logging.getLogger(__name__)
# The asymmetric algorithms we accept, and the JWK key type each needs.
ASYMMETRIC_ALGORITHMS = {"ES256": "EC", "RS256": "RSA"}


@dataclass(frozen=True)
class Caller:
    """The verified caller of a request."""

    user_id: str
    email: str | None
    role: str
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.secret = settings.supabase_jwt_secret
        self.audience = settings.jwt_audience
        self.jwks = (
            jwt.PyJWKClient(settings.supabase_jwks_url, cache_keys=True,
                            lifespan=settings.jwks_cache_seconds, timeout=5)
            if settings.supabase_jwks_url else None
        )

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, TypeError, ValueError):
            raise Unauthorized("the bearer token is not a JWT", code="invalid_token") from None
        algorithm = header.get("alg")
        if algorithm == "HS256" and self.secret:
            key: Any = self.secret
        elif algorithm in ASYMMETRIC_ALGORITHMS and self.jwks is not None:
            try:
                signing_key = self.jwks.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientConnectionError:
                log.warning("JWKS endpoint unreachable")
                raise Unauthorized("the signing keys could not be fetched", code="invalid_token") from None
            except jwt.PyJWTError:
                raise Unauthorized("the token's signing key is unknown", code="invalid_token") from None
            # The header's alg is the sender's word: an RS256 header naming an EC key would hand
            # PyJWT a key it cannot use (a TypeError, not a refusal).
            if signing_key.key_type != ASYMMETRIC_ALGORITHMS[algorithm]:
                raise Unauthorized("the token's algorithm does not fit its signing key", code="invalid_token")
            key = signing_key.key
        else:
            raise Unauthorized("the token's algorithm is not accepted", code="invalid_token")
        try:
            return jwt.decode(
                token, key, algorithms=[algorithm], audience=self.audience,
                options={"require": ["exp", "sub", "aud"]}, leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", code="token_expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token is not for this audience", code="invalid_token") from None
        except (jwt.PyJWTError, TypeError, ValueError):  # whatever the token holds, it is a 401
            raise Unauthorized("the token is not valid", code="invalid_token") from None


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an `Authorization: Bearer <token>` header is required", code="missing_token")
    return token.strip()


def current_caller() -> Caller:
    """Verifies the request's token once per request and returns the caller."""
    caller = g.get("caller")
    if caller is None:
        claims = services().verifier.verify(bearer_token())
        caller = Caller(user_id=str(claims["sub"]), email=claims.get("email"),
                        role=str(claims.get("role", "authenticated")), claims=claims)
        g.caller = caller
    return caller


def claims_for(user_id: str, email: str | None) -> dict[str, Any]:
    """The claims Supabase Auth issues a signed-in user, for work done as that user without a
    request (an operator's export, a scheduled run): RLS then bounds it as it would the user."""
    return {"sub": user_id, "role": "authenticated", "aud": "authenticated", "email": email}


def sign_dev_token(secret: str, user_id: str, email: str, *, lifetime_seconds: int = 3600,
                   audience: str = "authenticated", issued_at: int | None = None) -> str:
    """A token shaped like Supabase Auth's, for local development and tests only."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {
        "sub": user_id, "email": email, "aud": audience, "role": "authenticated",
        "iat": now, "exp": now + lifetime_seconds, "iss": "haven-local",
        "app_metadata": {"provider": "email"}, "user_metadata": {}, "is_anonymous": False,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
