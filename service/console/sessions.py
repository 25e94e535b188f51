"""The console's server-side sessions (public.console_sessions) and the signed-in page's caller.

The browser holds one opaque random id in an HttpOnly, SameSite=Lax cookie (Secure and
`__Host-` over https); the table keeps its SHA-256, the user and, on a hosted project, the
Supabase Auth tokens, which never reach the browser. Each request finds its session by that
hash, ends it when idle or expired, refreshes a hosted access token on the server shortly before
it expires (the row locked, so two requests never spend one single-use refresh token), and acts
as the user with the claims the JSON API would use: a verified access token's claims (hosted) or
the claims Supabase Auth would issue (local).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from flask import Request, Response, g, request

from ..auth import Caller, claims_for
from ..config import Settings
from ..context import services
from ..errors import Unauthorized
from . import hosted_auth

log = logging.getLogger(__name__)
# Refresh a hosted access token this long before it expires.
REFRESH_MARGIN = timedelta(seconds=60)
# last_seen_at is written at most this often (it only feeds the idle timeout).
TOUCH_EVERY = timedelta(seconds=60)
COLUMNS = ("id, user_id, email, kind, access_token, refresh_token, access_expires_at, csrf_token,"
           " last_seen_at, expires_at")


@dataclass(frozen=True)
class ConsoleSession:
    id: str
    user_id: str
    email: str | None
    kind: str
    csrf_token: str
    claims: dict[str, Any]
    access_token: str | None = None

    @property
    def caller(self) -> Caller:
        return Caller(user_id=self.user_id, email=self.email, role="authenticated", claims=self.claims)


def secure_cookies(settings: Settings, req: Request) -> bool:
    return req.is_secure or settings.public_base_url.startswith("https://")


def cookie_name(base: str, secure: bool) -> str:
    # __Host-: only over https, path /, no Domain: a sibling subdomain cannot plant or shadow it.
    return f"__Host-{base}" if secure else base


def session_cookie_name() -> str:
    return cookie_name("haven_session", secure_cookies(services().settings, request))


def digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def _row_session(row: dict[str, Any], claims: dict[str, Any]) -> ConsoleSession:
    return ConsoleSession(id=str(row["id"]), user_id=str(row["user_id"]), email=row["email"], kind=row["kind"],
                          csrf_token=row["csrf_token"], claims=claims, access_token=row["access_token"])


def create(user_id: str, email: str | None, kind: str, tokens: hosted_auth.Tokens | None = None) -> str:
    """Stores a new session (a new id at every sign-in) and returns the raw id for the cookie."""
    settings = services().settings
    raw = secrets.token_urlsafe(32)
    with services().db.as_service() as conn:
        conn.execute("select public.prune_console_sessions()")
        conn.execute(
            "insert into public.console_sessions (session_hash, user_id, email, kind, access_token, refresh_token,"
            " access_expires_at, csrf_token, expires_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
            [digest(raw), user_id, email, kind, tokens and tokens.access_token, tokens and tokens.refresh_token,
             tokens and tokens.expires_at, secrets.token_urlsafe(32), settings.console_session_max_hours * 3600])
    return raw


def set_cookie(response: Response, raw: str) -> None:
    settings = services().settings
    secure = secure_cookies(settings, request)
    response.set_cookie(cookie_name("haven_session", secure), raw, max_age=int(settings.console_session_max_hours * 3600),
                        path="/", secure=secure, httponly=True, samesite="Lax")


def clear_cookie(response: Response) -> None:
    secure = secure_cookies(services().settings, request)
    response.delete_cookie(cookie_name("haven_session", secure), path="/", secure=secure, httponly=True,
                           samesite="Lax")


def raw_id() -> str | None:
    return request.cookies.get(session_cookie_name()) or None


def current() -> ConsoleSession | None:
    """This request's signed-in session (once per request), or None."""
    if "console_session" in g:
        return g.console_session  # type: ignore[no-any-return]
    found = _load(raw_id())
    g.console_session = found
    if found is not None:
        g.caller = found.caller  # what current_caller() answers, as for a bearer token
    return found


def _load(raw: str | None) -> ConsoleSession | None:
    if not raw or len(raw) > 200:
        return None
    settings = services().settings
    db = services().db
    row = db.call_as_service(
        f"select {COLUMNS}, now() as now from public.console_sessions where session_hash = %s"
        " and expires_at > now() and last_seen_at > now() - make_interval(secs => %s)",
        [digest(raw), settings.console_session_idle_hours * 3600])
    if row is None:
        return None
    if row["now"] - row["last_seen_at"] > TOUCH_EVERY:
        db.call_as_service("update public.console_sessions set last_seen_at = now() where id = %s", [row["id"]])
    if row["kind"] == "local":
        return _row_session(row, claims_for(str(row["user_id"]), row["email"]))
    if row["access_expires_at"] - row["now"] < REFRESH_MARGIN:
        row = _refresh(str(row["id"]))
        if row is None:
            return None
    try:
        claims = services().verifier.verify(row["access_token"])
    except Unauthorized as refused:
        log.info("console session %s ended: its access token was refused (%s)", row["id"], refused.code)
        end_by_id(str(row["id"]))
        return None
    if str(claims.get("sub")) != str(row["user_id"]):
        end_by_id(str(row["id"]))
        return None
    return _row_session(row, claims)


def _refresh(session_id: str) -> dict[str, Any] | None:
    """Renews the access token with the row locked; a request that waited on the lock sees the
    tokens the other stored and does not spend the refresh token again."""
    settings = services().settings
    with services().db.as_service() as conn:
        row = conn.execute(f"select {COLUMNS}, now() as now from public.console_sessions where id = %s for update",
                           [session_id]).fetchone()
        if row is None:
            return None
        if row["access_expires_at"] - row["now"] >= REFRESH_MARGIN:
            return row
        try:
            tokens = hosted_auth.refresh(settings, row["refresh_token"])
        except hosted_auth.SignInProblem as problem:
            log.info("console session %s ended: refresh refused (%s)", session_id, problem.code)
            conn.execute("delete from public.console_sessions where id = %s", [session_id])
            return None
        updated = conn.execute(
            f"update public.console_sessions set access_token = %s, refresh_token = %s, access_expires_at = %s"
            f" where id = %s returning {COLUMNS}, now() as now",
            [tokens.access_token, tokens.refresh_token, tokens.expires_at, session_id]).fetchone()
    return updated


def end_by_id(session_id: str) -> None:
    services().db.call_as_service("delete from public.console_sessions where id = %s", [session_id])


def end(session: ConsoleSession) -> None:
    """Signs out: the row goes first (the cookie is then worthless), then Auth's logout."""
    try:
        end_by_id(session.id)
    except psycopg.Error:
        log.exception("could not delete console session %s", session.id)
        raise
    if session.kind == "supabase" and session.access_token:
        hosted_auth.logout(services().settings, session.access_token)
