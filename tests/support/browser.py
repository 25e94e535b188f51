"""Browser tests: Debian's chromium driven by Playwright (no browser download), against the app
served on loopback in a thread, with the fake providers beside it.

Each test gets a fresh database (as every test does) and its own server; the browser process is
started once per run. Pages are synchronised on their own conditions (Playwright waits for the
element, the URL or the download), never on sleeps. Screenshots go to the test's tmp dir, and to
docs/screenshots/ when HAVEN_UPDATE_SCREENSHOTS=1 (then the README shows them).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import PROJECT_ROOT, Settings
from service.db import Database

from ..fakes.server import serve
from ..fakes.shopify import FakeShopify

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
SHOP = "haven-prints.myshopify.com"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # As root, Chromium refuses to start without --no-sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Live:
    base: str
    settings: Settings
    shopify: FakeShopify
    shots: Path

    def screenshot(self, page: Any, name: str) -> None:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("HAVEN_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")


@contextmanager
def live_server(settings: Settings, db: Database, tmp_path: Path, **overrides: Any) -> Iterator[Live]:
    """The app on http://127.0.0.1:<port>, with a fake Shopify; its public and app URLs are its own."""
    shopify = FakeShopify(consent_page=True)
    shopify.add_shop(SHOP, "Haven Prints")
    holder: dict[str, Any] = {}
    with serve(shopify.app()) as shopify_base, serve(lambda environ, start: holder["app"](environ, start)) as base:
        configured = replace(settings, public_url=base, app_url=base, shopify_client_id=shopify.client_id,
                             shopify_client_secret=shopify.client_secret,
                             shopify_base_url=shopify_base + "/shops/{shop}", **overrides)
        app = create_app(configured, database=db)
        holder["app"] = app
        shopify.base = shopify_base  # type: ignore[attr-defined]
        shots = tmp_path / "screenshots"
        shots.mkdir()
        yield Live(base, configured, shopify, shots)


def sign_in(page: Any, base: str, email: str = "demo@haven.local") -> None:
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/setup")
