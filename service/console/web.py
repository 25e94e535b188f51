"""What every console page shares: the signed-in guard, CSRF tokens, security headers, versioned
static files, rendering, and errors answered as pages in words (never JSON, never a 500 page
that says nothing).

CSRF: a synchronizer token. A signed-in form carries the token stored with its server-side
session (public.console_sessions.csrf_token, compared in constant time); the sign-in forms, which
have no session yet, carry a double-submit token equal to an HttpOnly `haven_csrf` cookie
(`__Host-` over https, so a sibling subdomain cannot plant one). Our own ~40 lines instead of
Flask-WTF: Flask-WTF keeps its token in Flask's signed cookie session and needs a SECRET_KEY
this service does not otherwise have, while the session table already holds a per-session secret.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import psycopg
from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, NotFound

from ..api import is_page, page
from ..config import Settings
from ..context import services
from ..errors import ApiError, ProviderError, from_database, provider_failure, validation_details
from . import sessions

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
CSRF_FIELD = "csrf_token"
YEAR = 365 * 24 * 3600


def blueprint(name: str) -> Blueprint:
    """A console area's blueprint: its templates are the console's, its errors are pages."""
    bp = Blueprint(name, __name__, template_folder=str(TEMPLATE_DIR))
    bp.register_error_handler(ApiError, _api_error_page)
    bp.register_error_handler(ProviderError, _provider_error_page)
    bp.register_error_handler(ValidationError, _validation_error_page)
    bp.register_error_handler(psycopg.Error, _database_error_page)
    bp.register_error_handler(HTTPException, _http_error_page)
    bp.register_error_handler(Exception, _unexpected_page)
    bp.before_request(_check_csrf)
    return bp


# -- signed in --------------------------------------------------------------------------------------

def signed_in(view: F) -> F:
    """A page for signed-in users: without a session, off to sign-in (and back here after)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if sessions.current() is None:
            return redirect(sign_in_url(request.full_path if request.method == "GET" else None), code=303)
        return view(*args, **kwargs)

    return page(wrapper)  # type: ignore[return-value]


def sign_in_url(next_path: str | None = None, **extra: str) -> str:
    params = dict(extra)
    if next_path and safe_next(next_path):
        params["next"] = next_path.rstrip("?")
    return "/console/sign-in" + (f"?{urlencode(params)}" if params else "")


def safe_next(value: str | None) -> str | None:
    """A path on this site to go back to, or None (never another site: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in value):
        return None
    return value


# -- CSRF -------------------------------------------------------------------------------------------

def csrf_cookie_name() -> str:
    return sessions.cookie_name("haven_csrf", sessions.secure_cookies(services().settings, request))


def csrf_token() -> str:
    """The token this request's forms carry (a template global)."""
    session = sessions.current()
    if session is not None:
        return session.csrf_token
    token = g.get("new_csrf") or request.cookies.get(csrf_cookie_name())
    if not token or len(token) < 32:
        token = g.new_csrf = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> Response | None:
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    sent = request.form.get(CSRF_FIELD, "")
    session = sessions.current()
    expected = session.csrf_token if session is not None else request.cookies.get(csrf_cookie_name(), "")
    if sent and expected and hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    log.info("console form refused: CSRF token missing or wrong (%s)", request.path)
    return problem_page("This form has expired or did not come from this site",
                        "Reload the page and send the form again.", 403)


def _remember_csrf(response: Response) -> Response:
    token = g.get("new_csrf")
    if token:
        secure = sessions.secure_cookies(services().settings, request)
        response.set_cookie(csrf_cookie_name(), token, path="/", secure=secure, httponly=True, samesite="Lax")
    return response


# -- headers ----------------------------------------------------------------------------------------

def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    if "{shop}" in parts.netloc:  # Shopify's consent screen is on the shop's own host
        return f"{parts.scheme}://*.myshopify.com"
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    # A connect button is a form: its POST answers 303 to the provider's consent screen, and
    # form-action governs where a form's redirects may go.
    consent = sorted({o for o in (_origin(settings.shopify_base_url), _origin(settings.pinterest_oauth_url)) if o})
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "connect-src 'self'", "font-src 'self'", "manifest-src 'self'",
        "form-action " + " ".join(["'self'", *consent]),
        "frame-ancestors 'none'", "base-uri 'none'",
    ])


def _security_headers(response: Response) -> Response:
    if request.endpoint is None or not is_page(current_app, request.endpoint):
        return response
    settings = services().settings
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(settings))
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if sessions.secure_cookies(settings, request):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    headers.setdefault("Cache-Control", "no-store")
    return response


def install(app: Flask) -> None:
    """Hooks every console page shares; the composition root registers the blueprints."""
    app.after_request(_remember_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, static_url=static_url, csrf_field=CSRF_FIELD)
    app.jinja_env.filters["ago"] = relative_time


# -- static files -----------------------------------------------------------------------------------

def _static_versions() -> dict[str, str]:
    versions = current_app.extensions.get("haven.console.static")
    if versions is None:
        versions = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
                    for path in STATIC_DIR.iterdir() if path.is_file()}
        current_app.extensions["haven.console.static"] = versions
    return versions  # type: ignore[no-any-return]


def static_url(name: str) -> str:
    """A URL that changes with the file's content, so it can be cached for a year."""
    return f"/console/static/{name}?v={_static_versions()[name]}"


def send_static(name: str) -> Response:
    version = _static_versions().get(name)
    if version is None:
        raise NotFound()
    response = Response((STATIC_DIR / name).read_bytes(),
                        content_type={"css": "text/css; charset=utf-8",
                                      "js": "text/javascript; charset=utf-8",
                                      "svg": "image/svg+xml"}.get(name.rsplit(".", 1)[-1], "application/octet-stream"))
    if request.args.get("v") == version:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:  # an old or missing version: serve, but never cache under this URL
        response.headers["Cache-Control"] = "no-cache"
    response.headers["ETag"] = f'"{version}"'
    return response


# -- rendering and errors ---------------------------------------------------------------------------

def render(template: str, status: int = 200, **context: Any) -> Response:
    session = sessions.current()
    body = render_template(template, session=session, settings=services().settings, **context)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def problem_page(title: str, detail: str, status: int) -> Response:
    return render("problem.html", status=status, title=title, detail=detail)


def _api_error_page(exc: ApiError) -> Response:
    return problem_page("That did not work", exc.message, exc.status)


def _provider_error_page(exc: ProviderError) -> Response:
    return _api_error_page(provider_failure(exc))


def _validation_error_page(exc: ValidationError) -> Response:
    problems = "; ".join(f"{d['field']}: {d['problem']}" if d["field"] else d["problem"]
                         for d in validation_details(exc))
    return problem_page("Please check the form", problems, 400)


def _database_error_page(exc: psycopg.Error) -> Response:
    mapped = from_database(exc)
    if mapped is not None:
        return problem_page("That did not work", mapped.message, mapped.status)
    log.exception("database error on a console page")
    return problem_page("Something went wrong on our side", "Nothing was changed. Try again in a moment.", 500)


def _http_error_page(exc: HTTPException) -> Response:
    titles = {404: "There is no such page", 405: "That page does not take this kind of request",
              413: "That form is too large"}
    return problem_page(titles.get(exc.code or 0, exc.name), exc.description or "", exc.code or 400)


def _unexpected_page(exc: Exception) -> Response:
    log.exception("unhandled error on a console page")
    return problem_page("Something went wrong on our side", "Nothing was changed. Try again in a moment.", 500)


def relative_time(value: Any, now: Any = None) -> str:
    """'3 minutes ago' / 'in 2 hours' (a template filter); the exact time goes in <time datetime>."""
    from datetime import datetime, timezone

    if value is None:
        return "never"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    now = now or datetime.now(timezone.utc)
    seconds = int((value - now).total_seconds())
    future, span = seconds > 0, abs(seconds)
    if span < 45:
        return "just now" if not future else "in a few seconds"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if span >= size * 0.75 or unit == "minute":
            count = max(1, round(span / size))
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return str(value)
