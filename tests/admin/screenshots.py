"""Take the console's screenshots in docs/screenshots/ (``admin-<page>-<theme>[-mobile].png``):
every page of ``tests.admin.tour``, light and dark theme on a desktop, light on a phone.

Run ``.venv/bin/python -m tests.admin.screenshots [OUTDIR]`` after changing the console's
templates or CSS, look at the PNGs, and commit them. It starts its own ``dex-py serve``
processes (SQLite) and stops them.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from tests.admin.browser import CONSOLE_CONFIG
from tests.admin.tour import tour
from tests.chromium import chromium
from tests.live import live_server

log = logging.getLogger(__name__)

DESKTOP = {"width": 1200, "height": 760}
PHONE = {"width": 390, "height": 760}
VARIANTS = (("light", DESKTOP, ""), ("dark", DESKTOP, ""), ("light", PHONE, "-mobile"))


def take(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium() as browser:
        for theme, viewport, suffix in VARIANTS:
            server = live_server({**CONSOLE_CONFIG, "frontend": {"theme": theme}})
            try:
                context = browser.new_context(viewport=viewport)
                page = context.new_page()
                for name in tour(page, server):
                    path = outdir / f"admin-{name}-{theme}{suffix}.png"
                    page.screenshot(path=str(path), full_page=True)
                    written.append(path)
                context.close()
            finally:
                server.stop()
                shutil.rmtree(server.data_dir, ignore_errors=True)
    return written


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    for path in take(outdir):
        log.info("%s %d KB", path, path.stat().st_size // 1024)


if __name__ == "__main__":
    main()
