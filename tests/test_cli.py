"""The `haven` command's guard rails."""
from __future__ import annotations

import jwt
from click.testing import CliRunner

from service.cli import main

from .conftest import JWT_SECRET


def run(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_migrate_twice_applies_nothing_the_second_time(database_url):
    env = {"DATABASE_URL": database_url}
    assert run(["db", "migrate"], env).output.strip().endswith("database is up to date")


def test_reset_refuses_a_remote_database():
    result = run(["db", "reset"], {"DATABASE_URL": "postgresql://postgres:pw@db.example.supabase.co:5432/postgres"})
    assert result.exit_code != 0
    assert "refusing" in result.output


def test_dev_token_refuses_a_remote_database():
    env = {"DATABASE_URL": "postgresql://postgres:pw@db.example.supabase.co:5432/postgres",
           "SUPABASE_JWT_SECRET": JWT_SECRET}
    result = run(["dev-token", "--email", "a@example.test"], env)
    assert result.exit_code != 0 and "refusing" in result.output


def test_dev_token_creates_the_user_once_and_signs_for_it(database_url):
    env = {"DATABASE_URL": database_url, "SUPABASE_JWT_SECRET": JWT_SECRET}
    first = run(["dev-token", "--email", "dev@example.test"], env).output.strip()
    second = run(["dev-token", "--email", "dev@example.test"], env).output.strip()
    claims = [jwt.decode(t, JWT_SECRET, algorithms=["HS256"], audience="authenticated") for t in (first, second)]
    assert claims[0]["sub"] == claims[1]["sub"] and claims[0]["email"] == "dev@example.test"


def test_the_front_end_and_public_urls_follow_the_served_port_unless_set(tmp_path):
    from service.config import Settings

    served = Settings.from_env(environ={"HAVEN_PORT": "5057"}, env_file=tmp_path / "absent.env")
    assert (served.front_end_url, served.public_base_url) == ("http://127.0.0.1:5057", "http://127.0.0.1:5057")
    chosen = Settings.from_env(environ={"HAVEN_PORT": "5057", "APP_URL": "https://app.example.test/",
                                        "HAVEN_PUBLIC_URL": "https://hub.example.test"},
                               env_file=tmp_path / "absent.env")
    assert (chosen.front_end_url, chosen.public_base_url) == ("https://app.example.test", "https://hub.example.test")
    everywhere = Settings.from_env(environ={"HAVEN_HOST": "0.0.0.0"}, env_file=tmp_path / "absent.env")
    assert everywhere.served_url == "http://127.0.0.1:5000"
