"""Take the screenshots in docs/screenshots/: every sample page, light and dark theme.

Run ``.venv/bin/python -m tests.web.screenshots [OUTDIR]`` after changing templates or CSS,
look at the PNGs, and commit them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from dex_py.config import FrontendConfig
from tests.chromium import chromium, serve
from tests.web.samples import make_page_app

log = logging.getLogger(__name__)

SHOTS = ["login", "password_invalid", "approval", "oob", "error", "logout"]
MOBILE_SHOTS = {"light": ["password"], "dark": ["approval"]}
DESKTOP = {"width": 960, "height": 660}
MOBILE = {"width": 390, "height": 720}


def take(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium() as browser:
        for theme in ("light", "dark"):
            app = make_page_app(FrontendConfig(theme=theme, issuer="Example Corp"))
            with serve(app) as base:
                for size_name, size in (("", DESKTOP), ("-mobile", MOBILE)):
                    page = browser.new_page(viewport=size)
                    names = MOBILE_SHOTS[theme] if size_name else SHOTS
                    for name in names:
                        page.goto(f"{base}/dex/page/{name}")
                        path = outdir / f"{name}-{theme}{size_name}.png"
                        page.screenshot(path=str(path), full_page=bool(size_name))
                        written.append(path)
                    page.close()
    return written


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    for path in take(outdir):
        log.info("%s %d KB", path, path.stat().st_size // 1024)


if __name__ == "__main__":
    main()
