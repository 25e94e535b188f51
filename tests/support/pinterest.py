"""A Haven Hub app wired to a fake Pinterest on loopback, and the steps of connecting through it,
shared by the OAuth/board-sync tests and the token-refresh tests."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.config import Settings
from service.db import Database

from ..fakes.pinterest import FakePinterest
from ..fakes.server import serve

CALLBACK = "http://hub.test/api/integrations/pinterest/callback"
FRONT_END = "http://app.test/console/integrations"


@dataclass
class PinterestWorld:
    fake: FakePinterest
    base: str
    settings: Settings
    db: Database
    client: FlaskClient

    def authorize_url(self, headers: dict[str, str]) -> str:
        response = self.client.get("/api/integrations/pinterest/install?format=json", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return str(response.json["authorize_url"])

    def state(self, headers: dict[str, str]) -> str:
        return query(self.authorize_url(headers))["state"]

    def callback(self, url: str) -> TestResponse:
        """Follows a redirect from Pinterest back to our callback (as the browser would)."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, headers: dict[str, str]) -> TestResponse:
        """Install, consent on Pinterest, callback, confirm: the user's whole click-through."""
        response = self.callback(self.fake.approve(self.state(headers), CALLBACK))
        confirmed = self.confirm(response, headers)
        assert confirmed.status_code == 200, confirmed.json
        return confirmed

    def confirm(self, response: TestResponse, headers: dict[str, str]) -> TestResponse:
        """The front end confirms a held JSON API flow with the user's token."""
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(f"{FRONT_END}?confirm="), location
        return self.client.post("/api/integrations/pinterest/confirm",
                                json={"confirmation": query(location)["confirm"]}, headers=headers)

    def credential(self, user_id: str, credential_type: str) -> str | None:
        with self.db.as_service() as conn:
            row = conn.execute("select public.get_credential(%s, 'pinterest', %s, 'tests', 'check what is stored') as value",
                               [user_id, credential_type]).fetchone()
        return None if row is None else row["value"]

    def integration(self, user_id: str) -> dict[str, Any] | None:
        with self.db.as_service() as conn:
            return conn.execute("select * from public.integrations where user_id = %s and provider = 'pinterest'",
                                [user_id]).fetchone()

    def board_ids(self, user_id: str) -> list[str]:
        with self.db.as_service() as conn:
            return [r["pinterest_board_id"] for r in conn.execute(
                "select pinterest_board_id from public.pinterest_boards where user_id = %s"
                " order by pinterest_board_id", [user_id]).fetchall()]

    def boards(self, user_id: str) -> dict[str, dict[str, Any]]:
        with self.db.as_service() as conn:
            return {r["pinterest_board_id"]: r for r in conn.execute(
                "select * from public.pinterest_boards where user_id = %s", [user_id]).fetchall()}

    def queue_items(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.as_service() as conn:
            return conn.execute("select * from public.retry_queue where user_id = %s"
                                " and operation_type = 'pinterest.sync_boards' order by created_at, id",
                                [user_id]).fetchall()


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def pinterest_settings(settings: Settings, fake: FakePinterest, base: str) -> Settings:
    return replace(settings, pinterest_client_id=fake.client_id, pinterest_client_secret=fake.client_secret,
                   pinterest_api_base=base + "/v5", pinterest_oauth_url=base + "/oauth/",
                   public_url="http://hub.test", app_url="http://app.test")


@contextmanager
def pinterest_world(settings: Settings, db: Database) -> Iterator[PinterestWorld]:
    fake = FakePinterest()
    with serve(fake.app()) as base:
        configured = pinterest_settings(settings, fake, base)
        app = create_app(configured, database=db)
        app.testing = True
        try:
            yield PinterestWorld(fake, base, configured, db, app.test_client())
        finally:
            fake.release_token.set()
