"""Signing in to the console: local and hosted (against a fake Supabase Auth), the server-side
session, CSRF, the security headers, the attempt limit, refresh and sign-out."""
from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import JWT_SECRET
from .support.console import console_app, csrf, hosted_auth, post_form, session_cookie, sign_in_locally
from .support.db import sql


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return 'id="signed-in"' in client.get("/console/sign-in").get_data(as_text=True)


def sessions_of(url: str, email: str) -> list[tuple]:
    return sql(url, "select kind, access_token, refresh_token, access_expires_at from public.console_sessions"
                    " where lower(email) = lower(%s)", [email])


def test_sign_in_page_is_a_page_with_the_security_headers(client):
    response = client.get("/console/sign-in")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'action="/console/sign-in/local"' in html and "<label for=\"local-email\">" in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    # No inline script or style anywhere on the page: the policy would refuse it.
    assert "<script>" not in html and " style=" not in html and "<style" not in html
    # The anonymous form's CSRF token is double-submitted with an HttpOnly cookie.
    cookie = client.get_cookie("haven_csrf")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and cookie.value == csrf(html)


def test_root_goes_to_the_console(client):
    assert client.get("/").headers["Location"] == "/console/"
    assert client.get("/console/").headers["Location"] == "/console/sign-in"


def test_local_sign_in_creates_the_user_and_a_server_side_session(client, database_url):
    response = sign_in_locally(client, "New.Person@example.test")
    assert response.headers["Location"] == "/console/"
    cookie = client.get_cookie("haven_session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    assert sql(database_url, "select count(*) from auth.users where email = 'New.Person@example.test'") == [(1,)]
    assert sessions_of(database_url, "new.person@example.test") == [("local", None, None, None)]
    # Only the hash of the cookie's id is stored.
    assert sql(database_url, "select count(*) from public.console_sessions where session_hash = sha256(%s::bytea)",
               [cookie.value.encode()]) == [(1,)]
    assert sql(database_url, "select count(*) from public.console_sessions where session_hash::text like %s",
               [f"%{cookie.value}%"]) == [(0,)]
    # Signed in: the page says so.
    assert signed_in(client)


def test_a_sign_in_gets_a_new_session_id_and_ends_the_previous_one(client, database_url):
    sign_in_locally(client)
    first = session_cookie(client)
    sign_in_locally(client)
    second = session_cookie(client)
    assert first != second
    assert sql(database_url, "select count(*) from public.console_sessions") == [(1,)]


def test_local_sign_in_is_refused_on_a_database_elsewhere(app, database_url):
    services = app.extensions["haven"]
    services.db.url = "postgresql://postgres@db.example.com:5432/postgres"
    client = app.test_client()
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert "/console/sign-in/local" not in page and "Sign-in is not configured" in page
    token = "t" * 43  # a double-submitted token the browser holds (no form on this page hands one out)
    client.set_cookie("haven_csrf", token)
    response = client.post("/console/sign-in/local", data={"csrf_token": token, "email": "x@example.test"})
    assert response.status_code == 403
    assert "only against a database on this machine" in response.get_data(as_text=True)
    assert sql(database_url, "select count(*) from auth.users where email = 'x@example.test'") == [(0,)]


@pytest.mark.parametrize("token", [None, "", "forged-token-forged-token-forged-token"])
def test_a_form_without_its_csrf_token_is_refused(client, database_url, token):
    client.get("/console/sign-in")
    data = {"email": "demo@haven.local"} if token is None else {"email": "demo@haven.local", "csrf_token": token}
    response = client.post("/console/sign-in/local", data=data)
    assert response.status_code == 403
    assert "did not come from this site" in response.get_data(as_text=True)
    assert sql(database_url, "select count(*) from public.console_sessions") == [(0,)]


def test_a_signed_in_form_needs_the_sessions_own_token(client, database_url):
    sign_in_locally(client)
    anonymous_token = client.get_cookie("haven_csrf").value
    response = client.post("/console/sign-out", data={"csrf_token": anonymous_token})
    assert response.status_code == 403
    assert sql(database_url, "select count(*) from public.console_sessions") == [(1,)]


def test_bad_input_is_answered_in_words(client):
    response = post_form(client, "/console/sign-in", "/console/sign-in/local", {"email": "not an email"})
    assert response.status_code == 400
    assert "Please enter an email address" in response.get_data(as_text=True)


def test_sign_in_attempts_are_limited_per_account(settings, db):
    app = console_app(replace(settings, sign_in_account_limit=2), db)
    client = app.test_client()
    for _ in range(2):
        assert post_form(client, "/console/sign-in", "/console/sign-in/local",
                         {"email": "demo@haven.local"}).status_code == 303
    response = post_form(client, "/console/sign-in", "/console/sign-in/local", {"email": "demo@haven.local"})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
    # Another account from the same address is still let in.
    assert post_form(client, "/console/sign-in", "/console/sign-in/local",
                     {"email": "other@haven.local"}).status_code == 303


def test_sign_out_ends_the_session(client, database_url):
    sign_in_locally(client)
    old = session_cookie(client)
    response = post_form(client, "/console/sign-in", "/console/sign-out")
    assert response.status_code == 303 and "notice=signed_out" in response.headers["Location"]
    assert sql(database_url, "select count(*) from public.console_sessions") == [(0,)]
    client.set_cookie("haven_session", old)
    assert not signed_in(client)  # the old id signs nobody in


def test_an_idle_session_ends(client, database_url):
    sign_in_locally(client)
    assert signed_in(client)
    sql(database_url, "update public.console_sessions set last_seen_at = now() - interval '13 hours'")
    assert not signed_in(client)


def test_next_never_leaves_the_site(client):
    page = client.get("/console/sign-in?next=//evil.example/x").get_data(as_text=True)
    assert "evil.example" not in page
    response = client.post("/console/sign-in/local", data={"csrf_token": csrf(page), "email": "a@haven.local",
                                                           "next": "https://evil.example/"})
    assert response.headers["Location"] == "/console/"


def test_static_files_are_versioned_and_cached(client):
    html = client.get("/console/sign-in").get_data(as_text=True)
    href = re.search(r'href="(/console/static/console\.css\?v=[0-9a-f]+)"', html).group(1)
    response = client.get(href)
    assert response.status_code == 200 and response.content_type.startswith("text/css")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/console/static/console.css?v=old").headers["Cache-Control"] == "no-cache"
    assert client.get("/console/static/nothing.css").status_code == 404


# -- hosted: Supabase Auth ------------------------------------------------------------------------

@pytest.fixture
def hosted(settings, db, make_user):  # type: ignore[no-untyped-def]
    with hosted_auth(settings, JWT_SECRET) as (fake, hosted_settings):
        user = make_user("owner@example.test")
        fake.add_user(user.id, user.email, "correct horse battery staple")
        app = console_app(hosted_settings, db)
        yield fake, app, user


def test_hosted_password_sign_in_keeps_the_tokens_on_the_server(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert "/console/sign-in/local" not in page and "/console/sign-in/password" in page
    response = client.post("/console/sign-in/password", data={"csrf_token": csrf(page), "email": user.email,
                                                              "password": "correct horse battery staple"})
    assert response.status_code == 303
    [(kind, access, refresh, expires)] = sessions_of(database_url, user.email)
    assert kind == "supabase" and access and refresh and expires
    cookie = session_cookie(client)
    assert access not in cookie and refresh not in cookie
    assert fake.requests[-1]["apikey"] == fake.anon_key
    later = client.get("/console/sign-in?next=/console/")
    assert 'id="signed-in"' in later.get_data(as_text=True)
    for response in (later, client.get("/console/")):
        body = response.get_data(as_text=True)
        assert access not in body and refresh not in body and access not in str(response.headers)


def test_hosted_wrong_password_is_answered_in_words(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    response = post_form(client, "/console/sign-in", "/console/sign-in/password",
                         {"email": user.email, "password": "wrong"})
    assert response.status_code == 400
    assert "do not match an account" in response.get_data(as_text=True)
    assert sessions_of(database_url, user.email) == []


def test_magic_link_uses_pkce_and_works_only_in_the_browser_that_asked(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    response = post_form(client, "/console/sign-in", "/console/sign-in/link", {"email": user.email})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    otp = next(r for r in fake.requests if r["path"] == "/auth/v1/otp")
    assert otp["json"]["code_challenge_method"] == "s256" and len(otp["json"]["code_challenge"]) >= 43
    assert otp["args"]["redirect_to"] == "http://hub.test/console/auth/callback"
    pkce = client.get_cookie("haven_pkce", path="/console/auth/")
    assert pkce is not None and pkce.http_only
    # The person clicks the link in the email; Auth redirects to our callback with a code.
    clicked = requests.get(fake.last_link(user.email), allow_redirects=False, timeout=5)
    callback = urlsplit(clicked.headers["Location"])
    assert callback.path == "/console/auth/callback"
    # Another browser (no verifier) cannot use it ...
    stranger = app.test_client()
    refused = stranger.get(f"{callback.path}?{callback.query}")
    assert refused.status_code == 400 and "in the browser where you asked for it" in refused.get_data(as_text=True)
    # ... the browser that asked can.
    signed_in = client.get(f"{callback.path}?{callback.query}")
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
    assert [row[0] for row in sessions_of(database_url, user.email)] == ["supabase"]
    # The code works once.
    again = client.get(f"{callback.path}?{callback.query}")
    assert again.status_code in (303, 400)
    assert len(sessions_of(database_url, user.email)) == 1


def test_one_time_code_signs_in(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    post_form(client, "/console/sign-in", "/console/sign-in/link", {"email": user.email})
    wrong = post_form(client, "/console/sign-in", "/console/sign-in/code", {"email": user.email, "code": "000000"
                                                                            if fake.last_code(user.email) != "000000"
                                                                            else "111111"})
    assert wrong.status_code == 400 and "expired" in wrong.get_data(as_text=True)
    response = post_form(client, "/console/sign-in", "/console/sign-in/code",
                         {"email": user.email, "code": fake.last_code(user.email)})
    assert response.status_code == 303
    assert [row[0] for row in sessions_of(database_url, user.email)] == ["supabase"]


def test_the_server_refreshes_a_token_about_to_expire_and_sign_out_logs_out(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    post_form(client, "/console/sign-in", "/console/sign-in/password",
              {"email": user.email, "password": "correct horse battery staple"})
    [(_, access, refresh, _)] = sessions_of(database_url, user.email)
    sql(database_url, "update public.console_sessions set access_expires_at = now() + interval '10 seconds'")
    assert signed_in(client)  # still signed in, after a refresh
    [(_, new_access, new_refresh, expires)] = sessions_of(database_url, user.email)
    assert new_refresh != refresh and new_access
    assert [r["args"].get("grant_type") for r in fake.requests if r["path"] == "/auth/v1/token"] == \
        ["password", "refresh_token"]
    response = post_form(client, "/console/sign-in", "/console/sign-out")
    assert response.status_code == 303
    assert sessions_of(database_url, user.email) == []
    assert fake.requests[-1]["path"] == "/auth/v1/logout"
    assert len(fake.revoked_sessions) == 1


def test_a_refused_refresh_ends_the_session(hosted, database_url):
    fake, app, user = hosted
    client = app.test_client()
    post_form(client, "/console/sign-in", "/console/sign-in/password",
              {"email": user.email, "password": "correct horse battery staple"})
    fake.revoked_sessions.update(entry["session_id"] for entry in fake.refresh_tokens.values())
    sql(database_url, "update public.console_sessions set access_expires_at = now() - interval '1 second'")
    assert not signed_in(client)
    assert sessions_of(database_url, user.email) == []
