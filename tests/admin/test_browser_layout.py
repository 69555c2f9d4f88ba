"""Every console page in Chromium, light theme on a desktop and a phone, dark theme on a
desktop: nothing the CSP blocks (no inline script or style), no page wider than a phone's
screen (wide tables scroll inside their frame), the dark theme really dark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.admin.browser import need_chromium, start_console
from tests.admin.tour import tour
from tests.chromium import chromium
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 800}
EXPECTED = {
    "overview",
    "clients",
    "client-form-errors",
    "client-secret",
    "client",
    "client-read-only",
    "confirm-delete",
    "connectors",
    "connector-form",
    "users",
    "user-form",
    "teams",
    "sessions",
    "keys",
    "audit",
    "logged-out",
    "forbidden",
}


def _walk(browser: Any, server: LiveServer, viewport: dict[str, int]) -> dict[str, Any]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems: list[str] = []
    # a form with errors answers 400 (the document itself): that is not a problem
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.request.resource_type != "document" and r.status >= 400
            else None
        ),
    )
    seen: dict[str, Any] = {}
    for name in tour(page, server):
        seen[name] = page.evaluate(
            """() => ({
                overflow: document.documentElement.scrollWidth - window.innerWidth,
                background: getComputedStyle(document.body).backgroundColor,
                svg: document.querySelectorAll('svg.chart').length,
            })"""
        )
    context.close()
    assert problems == []  # e.g. "Refused to apply inline style" (CSP), a missing stylesheet
    return seen


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_fits_and_follows_the_theme(
    make_live_server: Callable[..., LiveServer], theme: str
) -> None:
    need_chromium()
    server = start_console(make_live_server, frontend={"theme": theme})
    with chromium() as browser:
        sizes = [DESKTOP, PHONE] if theme == "light" else [DESKTOP]
        for viewport in sizes:
            seen = _walk(browser, server, viewport)
            assert set(seen) == EXPECTED
            for name, facts in seen.items():
                assert facts["overflow"] <= 0, (theme, viewport, name, facts)
            assert seen["overview"]["svg"] == 1
            r, g, b = (int(v) for v in seen["overview"]["background"][4:-1].split(",")[:3])
            assert (r + g + b < 150) == (theme == "dark"), seen["overview"]["background"]
