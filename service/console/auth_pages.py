"""Signing in and out of the console.

Hosted (SUPABASE_URL and SUPABASE_ANON_KEY set): Supabase Auth through its Python client, PKCE:
email and password; or a magic link, whose PKCE verifier stays in an HttpOnly cookie of the
browser that asked (so the link signs in that browser only), with the one-time code from the
same email as an alternative. Local (no Auth server): an email-only sign-in that creates the
local user if missing, refused on any database that is not on this machine, as
`haven dev-token` is. Every attempt counts against a limit per account and per client address
(public.allow_sign_in_attempt, shared by every server process). A sign-in always makes a new
session id; signing out deletes the session and ends it at Auth.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Response, redirect, request
from pydantic import Field, ValidationError

from ..api import Strict, page
from ..context import services
from ..localdb import ensure_local_user, is_local_url
from . import hosted_auth, sessions, web
from .hosted_auth import SignInProblem

log = logging.getLogger(__name__)
bp = web.blueprint("console_auth")
# The hooks every console page shares are installed once, when this blueprint is registered.
bp.record_once(lambda state: web.install(state.app))
PKCE_COOKIE = "haven_pkce"
NOTICES = {
    "signed_out": "You are signed out.",
    "link_sent": "Check your email: open the link in this browser, or type the code from the email below.",
}


class EmailForm(Strict):
    # The shape only: Auth validates deliverability, and local addresses (demo@haven.local) use
    # special-use domains a strict validator refuses.
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PasswordForm(EmailForm):
    password: str = Field(min_length=1, max_length=1024)


class CodeForm(EmailForm):
    code: str = Field(pattern=r"^\d{6,10}$")


def local_sign_in_allowed() -> bool:
    return not hosted_auth.configured(services().settings) and is_local_url(services().db.url)


def _form(model: type[Strict]) -> Any:
    data = {key: value for key, value in request.form.items() if key not in {web.CSRF_FIELD, "next"}}
    return model.model_validate(data)


def _next() -> str:
    return web.safe_next(request.values.get("next")) or "/console/"


def _sign_in_page(status: int = 200, error: str | None = None, *, email: str | None = None,
                  notice_sent: bool = False) -> Response:
    settings = services().settings
    local = local_sign_in_allowed()
    if email is None:
        email = request.values.get("email", "demo@haven.local" if local else "")
    return web.render("sign_in.html", status=status, error=error, hosted=hosted_auth.configured(settings),
                      local=local, next=web.safe_next(request.values.get("next")),
                      notice=NOTICES["link_sent"] if notice_sent else NOTICES.get(request.args.get("notice", "")),
                      notice_sent=notice_sent, email=email)


def _invalid(exc: ValidationError) -> Response:
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    words = {"email": "an email address like name@example.com", "password": "your password",
             "code": "the 6-digit code from the email"}
    wanted = ", ".join(words.get(field, field) for field in sorted(fields)) or "every field"
    return _sign_in_page(400, f"Please enter {wanted}.")


def _rate_limited(email: str) -> bool:
    settings = services().settings
    row = services().db.call_as_service(
        "select public.allow_sign_in_attempt(%s, %s, %s, %s, %s) as allowed",
        [email, request.remote_addr or "unknown", settings.sign_in_account_limit, settings.sign_in_address_limit,
         settings.sign_in_window_seconds])
    return not (row and row["allowed"])


def _too_many() -> Response:
    minutes = max(1, services().settings.sign_in_window_seconds // 60)
    return _sign_in_page(429, f"Too many sign-in attempts. Wait {minutes} minutes, then try again.")


def _start_session(user_id: str, email: str | None, kind: str, tokens: hosted_auth.Tokens | None = None) -> Response:
    previous = sessions.current()
    if previous is not None:  # a sign-in replaces the browser's session, never reuses its id
        sessions.end(previous)
    raw = sessions.create(user_id, email, kind, tokens)
    log.info("console sign-in (%s) for user %s", kind, user_id)
    response = redirect(_next(), code=303)
    sessions.set_cookie(response, raw)
    return response


def _hosted_session(tokens: hosted_auth.Tokens) -> Response:
    # The service accepts the token as it would a bearer token, or the sign-in does not count.
    claims = services().verifier.verify(tokens.access_token)
    if str(claims.get("sub")) != tokens.user_id:
        return _sign_in_page(400, "Supabase Auth answered for another user: try again.")
    return _start_session(tokens.user_id, tokens.email, "supabase", tokens)


@bp.get("/")
@page
def root() -> Response:
    return redirect("/console/", code=302)


@bp.get("/console/")
@page
def home() -> Response:
    if sessions.current() is None:
        return redirect(web.sign_in_url(), code=302)
    return redirect("/console/setup", code=302)


@bp.get("/console/sign-in")
@page
def sign_in() -> Response:
    # Signed in already: the page says so (the header names the account) and still offers the
    # forms, to switch accounts.
    return _sign_in_page()


@bp.post("/console/sign-in/local")
@page
def sign_in_local() -> Response:
    if not local_sign_in_allowed():
        return _sign_in_page(403, "The local sign-in works only against a database on this machine "
                                  "with no Supabase Auth configured.")
    try:
        form = _form(EmailForm)
    except ValidationError as exc:
        return _invalid(exc)
    if _rate_limited(form.email):
        return _too_many()
    user_id = ensure_local_user(services().db.url, form.email)
    return _start_session(user_id, form.email, "local")


@bp.post("/console/sign-in/password")
@page
def sign_in_password() -> Response:
    if not hosted_auth.configured(services().settings):
        return _sign_in_page(404, "Password sign-in needs Supabase Auth (SUPABASE_URL).")
    try:
        form = _form(PasswordForm)
    except ValidationError as exc:
        return _invalid(exc)
    if _rate_limited(form.email):
        return _too_many()
    try:
        tokens = hosted_auth.sign_in_with_password(services().settings, form.email, form.password)
    except SignInProblem as problem:
        return _sign_in_page(429 if "rate_limit" in problem.code else 400, problem.message)
    return _hosted_session(tokens)


@bp.post("/console/sign-in/link")
@page
def sign_in_link() -> Response:
    settings = services().settings
    if not hosted_auth.configured(settings):
        return _sign_in_page(404, "Magic links need Supabase Auth (SUPABASE_URL).")
    try:
        form = _form(EmailForm)
    except ValidationError as exc:
        return _invalid(exc)
    if _rate_limited(form.email):
        return _too_many()
    callback = f"{settings.public_base_url}/console/auth/callback"
    next_path = web.safe_next(request.form.get("next"))
    try:
        verifier = hosted_auth.send_magic_link(settings, form.email, callback)
    except SignInProblem as problem:
        return _sign_in_page(429 if "rate_limit" in problem.code else 400, problem.message)
    response = _sign_in_page(notice_sent=True, email=form.email)
    secure = sessions.secure_cookies(settings, request)
    # The verifier of this browser's link: HttpOnly, only sent to the callback, gone in an hour.
    response.set_cookie(sessions.cookie_name(PKCE_COOKIE, secure) if secure else PKCE_COOKIE,
                        f"{verifier}|{next_path or ''}", max_age=3600, path="/console/auth/",
                        secure=secure, httponly=True, samesite="Lax")
    return response


@bp.post("/console/sign-in/code")
@page
def sign_in_code() -> Response:
    if not hosted_auth.configured(services().settings):
        return _sign_in_page(404, "One-time codes need Supabase Auth (SUPABASE_URL).")
    try:
        form = _form(CodeForm)
    except ValidationError as exc:
        return _invalid(exc)
    if _rate_limited(form.email):
        return _too_many()
    try:
        tokens = hosted_auth.verify_code(services().settings, form.email, form.code)
    except SignInProblem as problem:
        return _sign_in_page(400, problem.message, notice_sent=True)
    return _hosted_session(tokens)


@bp.get("/console/auth/callback")
@page
def auth_callback() -> Response:
    settings = services().settings
    if not hosted_auth.configured(settings):
        return _sign_in_page(404, "Sign-in links need Supabase Auth (SUPABASE_URL).")
    secure = sessions.secure_cookies(settings, request)
    name = sessions.cookie_name(PKCE_COOKIE, secure) if secure else PKCE_COOKIE
    verifier, _, next_path = request.cookies.get(name, "").partition("|")
    code = request.args.get("code", "")
    if request.args.get("error"):
        return _sign_in_page(400, "That sign-in link was refused or has expired: ask for a new one.")
    if not code or not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier or ""):
        return _sign_in_page(400, "Open the sign-in link in the browser where you asked for it, "
                                  "or type the code from the email.")
    try:
        tokens = hosted_auth.exchange_code(settings, code, verifier)
    except SignInProblem as problem:
        return _sign_in_page(400, problem.message)
    response = _hosted_session(tokens)
    if web.safe_next(next_path) and response.status_code == 303:
        response.headers["Location"] = next_path
    response.delete_cookie(name, path="/console/auth/", secure=secure, httponly=True, samesite="Lax")
    return response


@bp.post("/console/sign-out")
@page
def sign_out() -> Response:
    session = sessions.current()
    if session is not None:
        sessions.end(session)
    response = redirect(web.sign_in_url(notice="signed_out"), code=303)
    sessions.clear_cookie(response)
    return response


@bp.get("/console/static/<name>")
@page
def static(name: str) -> Response:
    return web.send_static(name)
