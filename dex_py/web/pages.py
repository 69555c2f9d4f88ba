"""Server-rendered pages: the Jinja loader, template globals, ``/static`` and ``/theme`` routes.

``init_web(app, frontend, issuer_path)`` wires the frontend into a Flask app, honouring Dex's
``frontend`` config section: ``frontend.dir`` overrides single templates (``<dir>/templates``),
static files (``<dir>/static``) and theme files (``<dir>/themes/<theme>``); anything it does not
provide falls back to the files shipped with dex-py (``dex_py.resources``).

Asset URLs carry a ``?v=<content digest>`` so they can be cached for a year (``immutable``) and
still change on upgrade. ``render_page`` renders a page that must never be cached (login forms,
CSRF tokens, codes).

Every page works without JavaScript and fits the CSP ``default-src 'self'; style-src 'self';
script-src 'self'``; only ``form_post.html`` carries a script, guarded by a per-response nonce
(``csp_nonce`` in its context).
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from flask import Flask, Response, render_template, request, send_from_directory
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from dex_py.config import FrontendConfig
from dex_py.resources import resource_dir

log = logging.getLogger("dex_py.web")  # the name before the move

DEFAULT_THEME = "light"
LOGO_NAMES = ("logo.svg", "logo.png")  # looked up in the theme folder, in this order
VERSIONED_MAX_AGE = 365 * 24 * 3600  # URL carries the content digest: cache "forever"
UNVERSIONED_MAX_AGE = 3600  # a hand-written URL: revalidate after an hour
_THEME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _AssetDirs:
    """Where one kind of asset lives: the operator's override folder first, then ours."""

    def __init__(self, *dirs: Path) -> None:
        self.dirs = dirs

    def find(self, filename: str) -> tuple[Path, Path] | None:
        """``(folder, file)`` of the first folder holding ``filename``; traversal never matches."""
        for folder in self.dirs:
            joined = safe_join(str(folder), filename)
            if joined is not None and Path(joined).is_file():
                return folder, Path(joined)
        return None

    def url(self, prefix: str, filename: str) -> str:
        found = self.find(filename)
        url = f"{prefix}/{quote(filename)}"
        if found is None:
            return url
        return f"{url}?v={_digest_of(found[1])}"

    def send(self, filename: str) -> Response:
        found = self.find(filename)
        if found is None:
            raise NotFound()
        folder, path = found
        versioned = request.args.get("v") == _digest_of(path)
        max_age = VERSIONED_MAX_AGE if versioned else UNVERSIONED_MAX_AGE
        response = send_from_directory(folder, filename, max_age=max_age)
        response.cache_control.public = True
        if versioned:
            response.cache_control.immutable = True
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _digest_of(path: Path) -> str:
    stat = path.stat()
    return _content_digest(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _content_digest(path: str, mtime_ns: int, size: int) -> str:
    """Short SHA-256 of a file; the key includes mtime and size, so an edited file re-hashes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _theme_name(frontend: FrontendConfig) -> str:
    theme = frontend.theme or DEFAULT_THEME
    if not _THEME_NAME.match(theme):
        raise ValueError(f"frontend.theme: invalid theme name {theme!r}")
    return theme


def init_web(app: Flask, frontend: FrontendConfig, issuer_path: str) -> None:
    """Configure templates, template globals and the ``/static`` and ``/theme`` routes.

    ``issuer_path`` is the path part of the issuer URL (``"/dex"`` or ``""``). Raises
    ``ValueError`` for a theme that does not exist, or when Flask's own static route would shadow
    ours (create the app with ``static_folder=None``).
    """
    prefix = issuer_path.rstrip("/")
    theme = _theme_name(frontend)
    shipped_static = resource_dir("static")
    override = Path(frontend.dir) if frontend.dir else None
    if override is not None and not override.is_dir():
        log.warning("frontend.dir %s is not a directory; using the built-in frontend", override)

    static_dirs = _AssetDirs(*([override / "static"] if override else []), shipped_static)
    theme_dirs = _AssetDirs(
        *([override / "themes" / theme] if override else []), shipped_static / "themes" / theme
    )
    if not any(d.is_dir() for d in theme_dirs.dirs):
        available = sorted(p.name for p in (shipped_static / "themes").iterdir() if p.is_dir())
        raise ValueError(f"frontend.theme: unknown theme {theme!r} (available: {available})")
    if not prefix and app.has_static_folder and app.static_url_path == "/static":
        raise ValueError(
            "Flask's static route shadows /static: create the app with static_folder=None"
        )

    loaders: list[BaseLoader] = []
    if override is not None:
        loaders.append(FileSystemLoader(str(override / "templates")))
    loaders.append(FileSystemLoader(str(resource_dir("templates"))))
    app.jinja_loader = ChoiceLoader(loaders)

    static_prefix = f"{prefix}/static"
    theme_prefix = f"{prefix}/theme"

    def asset(path: str) -> str:
        """URL of a file under ``static/``."""
        return static_dirs.url(static_prefix, path)

    def theme_asset(name: str) -> str:
        """URL of a file of the current theme (``static/themes/<theme>/<name>``)."""
        return theme_dirs.url(theme_prefix, name)

    logo_url = frontend.logo_url
    if not logo_url:
        logo_name = next((n for n in LOGO_NAMES if theme_dirs.find(n)), LOGO_NAMES[0])
        logo_url = theme_asset(logo_name)

    app.jinja_env.globals.update(
        issuer_name=frontend.issuer or "dex-py",
        logo_url=logo_url,
        theme=theme,
        extra=dict(frontend.extra),
        asset=asset,
        theme_asset=theme_asset,
    )

    def serve_static(filename: str) -> Response:
        return static_dirs.send(filename)

    def serve_theme(filename: str) -> Response:
        return theme_dirs.send(filename)

    app.add_url_rule(
        f"{static_prefix}/<path:filename>", "dexpy_static", serve_static, methods=["GET"]
    )
    app.add_url_rule(f"{theme_prefix}/<path:filename>", "dexpy_theme", serve_theme, methods=["GET"])


def render_page(template: str, status: int = 200, **context: object) -> Response:
    """Render ``template`` as an uncacheable HTML response (inside a request context).

    ``status`` is both the HTTP status and a template variable (error.html shows it).
    """
    response = Response(render_template(template, status=status, **context), status=status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
