"""Driving the console in headless Chromium (Playwright) against a live ``dex-py serve``: the
server's config with an admin, storage on SQLite or PostgreSQL (a fresh schema per test), and
the steps a person takes (log in through the password connector, fill a form, confirm)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.chromium import CHROMIUM
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer
from tests.services import missing_service
from tests.storage.conftest import Namespaces

CONSOLE_CONFIG: dict[str, Any] = {"admin": {"emails": [ADMIN_EMAIL]}}


def storage_of(ns: Namespaces, kind: str) -> dict[str, Any]:
    """The ``storage`` section of a live server on a fresh ``kind`` database."""
    cfg = ns.create(kind)
    return {"type": cfg.type, "config": dict(cfg.config)}


def need_chromium() -> None:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")


def start_console(
    make_live_server: Callable[..., LiveServer],
    storage: dict[str, Any] | None = None,
    **overrides: Any,
) -> LiveServer:
    config = {**CONSOLE_CONFIG, **overrides}
    return make_live_server(config, storage=storage) if storage else make_live_server(config)


def log_in(
    page: Any,
    server: LiveServer,
    email: str = ADMIN_EMAIL,
    password: str = ADMIN_PASSWORD,
    path: str = "/admin",
) -> None:
    """From ``path`` through the connector chooser and the password form, back to the console."""
    page.goto(server.url(path))
    page.wait_for_url(server.url("/auth") + "**")
    page.click('a[href*="/auth/local"]')
    page.fill("#login", email)
    page.fill("#password", password)
    page.locator("#password").press("Enter")
    page.wait_for_url(server.url(path.split("?", 1)[0]) + "**")


def confirm(page: Any) -> None:
    """Press the button of a confirmation page and wait for the answer."""
    page.wait_for_selector("#confirm-form")
    with page.expect_navigation():
        page.click("#confirm")
