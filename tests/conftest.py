"""Shared fixtures: one throwaway cluster per run, a migrated template, a fresh database per test.

Each test gets its own database cloned from the template (tens of milliseconds), so tests are
isolated from each other without relying on rollbacks the service code cannot take part in.
"""
from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.app import create_app
from service.auth import sign_dev_token
from service.config import Settings
from service.db import Database
from service.localdb import LocalCluster
from service.migrate import recreate_database
from service.testing import TEMPLATE_DB, migrated_template, throwaway_cluster

pytest_plugins = ("tests.support.shopify",)
JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with throwaway_cluster() as local:
        yield local


@pytest.fixture(scope="session")
def template_url(cluster: LocalCluster) -> str:
    return migrated_template(cluster, TEMPLATE_DB)


@pytest.fixture
def database_url(cluster: LocalCluster, template_url: str) -> Iterator[str]:
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    recreate_database(cluster.url(), name, template=TEMPLATE_DB)
    yield cluster.url(name)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return replace(Settings.from_env(environ={}, env_file=tmp_path / "absent.env"),
                   database_url=database_url, supabase_jwt_secret=JWT_SECRET,
                   app_url="http://app.test", state_dir=tmp_path / "state")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url or "", min_size=1, max_size=4)
    yield database
    database.close()


@pytest.fixture
def app(settings: Settings, db: Database) -> Flask:
    application = create_app(settings, database=db)
    application.testing = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(database_url: str):  # type: ignore[no-untyped-def]
    """Creates an auth.users row (the signup trigger runs) and a valid token for it."""

    def make(email: str | None = None) -> User:
        user_id = str(uuid.uuid4())
        email = email or f"{user_id[:8]}@example.test"
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated', %s)",
                [user_id, email],
            )
        return User(user_id, email, sign_dev_token(JWT_SECRET, user_id, email))

    return make


@pytest.fixture
def user(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user()
