"""The pages in real headless Chromium under the production CSP: focus order, styles, form_post.

Needs /usr/bin/chromium (Debian package ``chromium``): skipped locally without it, a failure in CI
(``DEXPY_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dex_py.config import FrontendConfig
from tests.chromium import CHROMIUM, chromium, serve
from tests.services import missing_service
from tests.web.samples import PAGES, make_page_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        missing_service("chromium", f"playwright is not installed: {exc}")
    with chromium() as b:
        yield b


class Tab:
    """A page that records console errors and CSP violations."""

    def __init__(self, browser: Any, **context_options: Any) -> None:
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.text.startswith("Failed to load resource"):
            return  # judged by _response: error pages have a 4xx status on purpose
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def active_id(self) -> str:
        return str(self.page.evaluate("document.activeElement.id"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    yield t
    t.close()


def test_password_page_focus_order(tab: Tab) -> None:
    with serve(make_page_app()) as base:
        response = tab.page.goto(f"{base}/dex/page/password")
        assert response is not None and response.headers["content-security-policy"]
        assert tab.active_id() == "login"  # autofocus on the empty username field
        tab.page.keyboard.press("Tab")
        assert tab.active_id() == "password"
        assert tab.page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        tab.page.keyboard.press("Tab")
        assert tab.active_id() == "submit-login"
        tab.page.keyboard.press("Shift+Tab")
        tab.page.keyboard.press("Shift+Tab")
        tab.page.keyboard.press("Shift+Tab")
        assert tab.page.evaluate("document.activeElement.className") == "skip-link"
        tab.page.wait_for_load_state("load")
    assert tab.problems == []


@pytest.mark.parametrize(
    "theme, background", [("light", "rgb(243, 245, 249)"), ("dark", "rgb(14, 17, 23)")]
)
def test_every_page_renders_styled_without_csp_violations(
    tab: Tab, theme: str, background: str
) -> None:
    with serve(make_page_app(FrontendConfig(theme=theme))) as base:
        for name in PAGES:
            if name == "form_post":
                continue  # submits itself; see below
            tab.page.goto(f"{base}/dex/page/{name}")
            tab.page.wait_for_load_state("load")
            color = tab.page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert color == background, name  # main.css and the theme's styles.css applied
            logo = tab.page.locator("img.brand-logo")
            assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), name
    assert tab.problems == []


def test_a_csp_violation_is_noticed(tab: Tab) -> None:
    """Control for the tests above: an inline style attribute is reported."""
    with serve(make_page_app()) as base:
        tab.page.goto(f"{base}/inline-style")
        tab.page.wait_for_load_state("load")
    assert any("Content Security Policy" in p for p in tab.problems)


def test_form_post_submits_itself_under_a_nonce_csp(tab: Tab) -> None:
    app = make_page_app()
    with serve(app) as base:
        with tab.page.expect_request(f"{base}/received"):
            tab.page.goto(f"{base}/dex/page/form_post")
        tab.page.wait_for_load_state("load")
    assert app.config["received"] == [{"code": "c-123", "state": "st<&>\"'"}]
    assert tab.problems == []


def test_form_post_works_without_javascript(browser: Any) -> None:
    tab = Tab(browser, java_script_enabled=False)
    app = make_page_app()
    try:
        with serve(app) as base:
            tab.page.goto(f"{base}/dex/page/form_post")
            assert app.config["received"] == []
            tab.page.click("#continue")
            tab.page.wait_for_load_state("load")
            assert tab.page.url == f"{base}/received"
        assert app.config["received"] == [{"code": "c-123", "state": "st<&>\"'"}]
        assert tab.problems == []
    finally:
        tab.close()
