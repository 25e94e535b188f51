"""Supabase Auth for the console, through the `supabase-auth` package's client, PKCE flow.

One client per call (the client rewrites its own Authorization header after a sign-in, so a
shared one would leak a user's token into the next call), never refreshing by itself (a timer
thread would refresh outside any request), with a storage that lives for the call only: the
tokens it yields go to public.console_sessions, the PKCE verifier of a magic link to an
HttpOnly cookie of the browser that asked for it (the link then works in that browser only,
as Supabase documents for server-side PKCE).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from supabase_auth import SyncGoTrueClient, SyncMemoryStorage
from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError
from supabase_auth.types import Session

from ..config import Settings
from ..errors import HavenError

log = logging.getLogger(__name__)
STORAGE_KEY = "supabase.auth.token"
VERIFIER_KEY = f"{STORAGE_KEY}-code-verifier"

# What a person is told, by Auth's error code; anything else gets a general sentence.
MESSAGES = {
    "invalid_credentials": "That email and password do not match an account.",
    "email_not_confirmed": "Confirm your email address first: open the link Supabase sent you.",
    "user_banned": "This account is suspended.",
    "otp_expired": "That code or link has expired: ask for a new one.",
    "otp_disabled": "There is no account with that email address.",
    "flow_state_not_found": "That sign-in link was already used or is unknown: ask for a new one.",
    "flow_state_expired": "That sign-in link has expired: ask for a new one.",
    "bad_code_verifier": "Open the sign-in link in the browser where you asked for it.",
    "over_email_send_rate_limit": "An email was sent a moment ago: wait a minute before asking again.",
    "over_request_rate_limit": "Too many sign-in requests: wait a few minutes and try again.",
    "validation_failed": "Check the email address.",
    "email_provider_disabled": "Email sign-in is turned off for this project.",
}


class SignInProblem(HavenError):
    """Auth refused or could not answer; `message` is for the person signing in."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    user_id: str
    email: str | None

    def __repr__(self) -> str:  # never print the tokens
        return f"Tokens(user_id={self.user_id!r}, expires_at={self.expires_at!r})"


def configured(settings: Settings) -> bool:
    return bool(settings.supabase_url and settings.supabase_anon_key)


@contextmanager
def _client(settings: Settings, storage: SyncMemoryStorage | None = None) -> Iterator[SyncGoTrueClient]:
    assert settings.supabase_url and settings.supabase_anon_key
    key = settings.supabase_anon_key
    http = httpx.Client(timeout=settings.http_timeout_seconds, follow_redirects=False)
    client = SyncGoTrueClient(
        url=settings.supabase_url.rstrip("/") + "/auth/v1", headers={"apikey": key, "Authorization": f"Bearer {key}"},
        storage_key=STORAGE_KEY, auto_refresh_token=False, persist_session=True,
        storage=storage or SyncMemoryStorage(), http_client=http, flow_type="pkce")
    try:
        yield client
    except AuthApiError as exc:
        code = str(exc.code or "")
        log.info("Supabase Auth refused a console request: %s %s", exc.status, code)
        if exc.status == 429 and code not in MESSAGES:
            code = "over_request_rate_limit"
        raise SignInProblem(code or "auth_error", MESSAGES.get(code, "Supabase Auth refused that: try again."),
                            ) from None
    except AuthRetryableError:
        log.warning("Supabase Auth unreachable")
        raise SignInProblem("auth_unavailable", "Supabase Auth did not answer: try again in a moment.") from None
    except (AuthError, httpx.HTTPError, ValueError) as exc:  # ValueError: pydantic's, on a malformed answer
        log.warning("Supabase Auth answered something unreadable: %s", type(exc).__name__)
        raise SignInProblem("auth_unavailable", "Supabase Auth gave an answer we could not read: try again.",
                            ) from None
    finally:
        http.close()


def _tokens(session: Session | None) -> Tokens:
    if session is None or not session.access_token or not session.refresh_token:
        raise SignInProblem("no_session", "Supabase Auth did not start a session: try again.")
    expires_at = (datetime.fromtimestamp(session.expires_at, timezone.utc) if session.expires_at
                  else datetime.now(timezone.utc) + timedelta(seconds=session.expires_in))
    return Tokens(session.access_token, session.refresh_token, expires_at, str(session.user.id), session.user.email)


def sign_in_with_password(settings: Settings, email: str, password: str) -> Tokens:
    with _client(settings) as client:
        return _tokens(client.sign_in_with_password({"email": email, "password": password}).session)


def send_magic_link(settings: Settings, email: str, redirect_to: str) -> str:
    """Emails a magic link (and a one-time code); returns the PKCE verifier to keep in this browser."""
    storage = SyncMemoryStorage()
    with _client(settings, storage) as client:
        client.sign_in_with_otp({"email": email, "options": {"email_redirect_to": redirect_to}})
    verifier = storage.get_item(VERIFIER_KEY)
    if not verifier:
        raise SignInProblem("no_pkce", "The sign-in link could not be prepared: try again.")
    return verifier


def exchange_code(settings: Settings, code: str, verifier: str) -> Tokens:
    with _client(settings) as client:
        return _tokens(client.exchange_code_for_session({"auth_code": code, "code_verifier": verifier}).session)


def verify_code(settings: Settings, email: str, code: str) -> Tokens:
    with _client(settings) as client:
        return _tokens(client.verify_otp({"email": email, "token": code, "type": "email"}).session)


def refresh(settings: Settings, refresh_token: str) -> Tokens:
    with _client(settings) as client:
        return _tokens(client.refresh_session(refresh_token).session)


def logout(settings: Settings, access_token: str) -> None:
    """Ends this session at Auth too; the console's own row is already gone, so a failure here is
    logged, not shown (the access token then dies at its expiry)."""
    try:
        with _client(settings) as client:
            client.admin.sign_out(access_token, "local")
    except SignInProblem as problem:
        if problem.code not in {"session_not_found", "bad_jwt", "user_not_found"}:
            log.warning("Supabase Auth logout failed: %s", problem.code)
