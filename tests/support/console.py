"""The console under the Flask test client: forms with their CSRF token, signing in, and a fake
Supabase Auth on loopback for the hosted sign-in."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.config import Settings
from service.db import Database

from ..fakes.server import serve
from ..fakes.supabase_auth import FakeSupabaseAuth

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, Any] | None = None) -> TestResponse:
    """Loads `page`, takes its CSRF token and posts `data` to `action`, as a browser would."""
    token = csrf(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **(data or {})})


def sign_in_locally(client: FlaskClient, email: str = "demo@haven.local") -> TestResponse:
    response = post_form(client, "/console/sign-in", "/console/sign-in/local", {"email": email})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("haven_session")
    return cookie.value if cookie else None


def console_app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    app = create_app(settings, database=db)
    app.testing = True
    return app


@contextmanager
def hosted_auth(settings: Settings, jwt_secret: str) -> Iterator[tuple[FakeSupabaseAuth, Settings]]:
    """A fake Supabase Auth on loopback and settings pointing the console at it."""
    fake = FakeSupabaseAuth(jwt_secret=jwt_secret)
    with serve(fake.app()) as base:
        fake.base = base  # type: ignore[attr-defined]
        yield fake, replace(settings, supabase_url=base, supabase_anon_key=fake.anon_key,
                            public_url="http://hub.test")
