"""dex_py.web.pages: template globals, themes, frontend.dir overrides, /static and /theme."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from dex_py.config import FrontendConfig
from dex_py.resources import resource_dir
from dex_py.web.pages import init_web
from tests.chromium import serve
from tests.web.html import Page

MakeApp = Callable[..., Flask]


def jinja_global(app: Flask, name: str) -> Any:
    return app.jinja_env.globals[name]


def stylesheets(app: Flask, path: str = "/dex/page/password") -> list[str]:
    page = Page(app.test_client().get(path).get_data(as_text=True))
    return [e.attrs["href"] for e in page.all("link", rel="stylesheet")]


def test_theme_switching_changes_the_stylesheet(make_app: MakeApp) -> None:
    light = make_app(frontend=FrontendConfig(theme="light"))
    dark = make_app(frontend=FrontendConfig(theme="dark"))
    light_css, dark_css = stylesheets(light)[1], stylesheets(dark)[1]
    assert light_css.startswith("/dex/theme/styles.css?v=")
    assert light_css != dark_css  # the digest differs, so caches never mix the themes
    assert b"color-scheme: dark" in dark.test_client().get(dark_css).data
    assert b"color-scheme: light" in light.test_client().get(light_css).data
    assert 'class="theme-dark"' in dark.test_client().get("/dex/page/oob").get_data(as_text=True)
    dark_logo = jinja_global(dark, "logo_url")
    assert (
        dark.test_client().get(dark_logo).data
        == (resource_dir("static") / "themes/dark/logo.svg").read_bytes()
    )


def test_empty_theme_means_light(make_app: MakeApp) -> None:
    app = make_app(frontend=FrontendConfig(theme=""))
    assert jinja_global(app, "theme") == "light"


@pytest.mark.parametrize("theme", ["blue", "../light", "light/../dark", "/etc"])
def test_unknown_or_unsafe_theme_is_an_error(theme: str) -> None:
    with pytest.raises(ValueError, match=r"frontend\.theme"):
        init_web(Flask(__name__, static_folder=None), FrontendConfig(theme=theme), "/dex")


def test_globals_from_frontend_config(make_app: MakeApp) -> None:
    frontend = FrontendConfig(
        issuer="Acme SSO", logo_url="https://cdn.example.com/acme.png", extra={"k": "v"}
    )
    app = make_app(frontend=frontend)
    html = app.test_client().get("/dex/page/login").get_data(as_text=True)
    page = Page(html)
    assert page.one("span", class_="brand-name").text == "Acme SSO"
    assert page.one("img", class_="brand-logo").attrs["src"] == "https://cdn.example.com/acme.png"
    assert page.one("h1").text == "Log in to Acme SSO"
    assert jinja_global(app, "extra") == {"k": "v"}


def test_root_issuer_path(make_app: MakeApp) -> None:
    app = make_app(issuer_path="")
    sheets = stylesheets(app, "/page/password")
    assert sheets[0].startswith("/static/main.css?v=")
    assert sheets[1].startswith("/theme/styles.css?v=")
    client = app.test_client()
    assert client.get(sheets[0]).status_code == 200
    assert client.get(sheets[1]).status_code == 200


def test_trailing_slash_in_issuer_path_is_ignored(make_app: MakeApp) -> None:
    app = make_app(issuer_path="/dex/")
    with app.test_request_context():
        assert jinja_global(app, "asset")("main.css").startswith("/dex/static/main.css?v=")
    assert app.test_client().get("/dex/static/main.css").status_code == 200


def test_flask_static_route_would_shadow_ours() -> None:
    with pytest.raises(ValueError, match="static_folder=None"):
        init_web(Flask(__name__), FrontendConfig(), "")
    init_web(Flask(__name__), FrontendConfig(), "/dex")  # no clash under a prefix


def test_static_cache_headers(make_app: MakeApp) -> None:
    app = make_app()
    client = app.test_client()
    versioned = stylesheets(app)[0]
    response = client.get(versioned)
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.immutable and response.cache_control.public
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    stale = client.get("/dex/static/main.css?v=000000000000")
    assert stale.cache_control.max_age == 3600 and not stale.cache_control.immutable
    assert (
        client.get(versioned, headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )


@pytest.mark.parametrize(
    "path",
    [
        "/dex/static/nope.css",
        "/dex/theme/nope.css",
        "/dex/static/../pyproject.toml",
        "/dex/static/%2e%2e/pyproject.toml",
        "/dex/static/themes/../../pyproject.toml",
        "/dex/theme/../main.css",
        "/dex/theme/../../main.css",
        "/dex/theme/%2e%2e/%2e%2e/main.css",
        "/dex/static//etc/passwd",
        "/dex/static/themes",
    ],
)
def test_missing_files_and_traversal_are_404(make_app: MakeApp, path: str) -> None:
    assert make_app().test_client().get(path, follow_redirects=True).status_code == 404


def test_traversal_over_real_http(make_app: MakeApp) -> None:
    """The raw request path reaches the route unnormalised, and is still refused."""
    app = make_app()
    with serve(app) as base:
        host, port = base.removeprefix("http://").split(":")
        for path, expected in [
            ("/dex/static/themes/../main.css", 200),  # '..' inside the folder is fine
            ("/dex/static/../pyproject.toml", 404),
            ("/dex/theme/../../../pyproject.toml", 404),
        ]:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            assert response.status == expected, path
            assert b"[project]" not in body


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_frontend_dir_overrides_templates_static_and_theme(
    make_app: MakeApp, tmp_path: Path
) -> None:
    write(
        tmp_path / "templates/login.html",
        '{% extends "base.html" %}{% block content %}<h1>Custom {{ extra.motto }}</h1>'
        "{% endblock %}",
    )
    write(tmp_path / "static/main.css", "/* operator css */")
    write(tmp_path / "static/extra.txt", "extra")
    write(tmp_path / "themes/light/styles.css", "/* operator theme */")
    write(tmp_path / "secret.txt", "secret")
    app = make_app(frontend=FrontendConfig(dir=str(tmp_path), extra={"motto": "hello"}))
    client = app.test_client()

    page = Page(client.get("/dex/page/login").get_data(as_text=True))
    assert page.one("h1").text == "Custom hello"
    main_css, theme_css = stylesheets(app, "/dex/page/login")
    assert client.get(main_css).data == b"/* operator css */"
    assert client.get(theme_css).data == b"/* operator theme */"
    assert client.get("/dex/static/extra.txt").data == b"extra"
    # Files the operator does not provide fall back to the shipped ones.
    password = Page(client.get("/dex/page/password").get_data(as_text=True))
    assert password.one("input", name="login")
    assert client.get("/dex/static/favicon.svg").status_code == 200
    logo = jinja_global(app, "logo_url")
    assert logo.startswith("/dex/theme/logo.svg?v=")
    assert client.get(logo).status_code == 200
    # ... and the override folder cannot be escaped either.
    assert client.get("/dex/static/../secret.txt").status_code == 404
    assert client.get("/dex/theme/../../secret.txt").status_code == 404


def test_frontend_dir_can_add_a_theme_with_a_png_logo(make_app: MakeApp, tmp_path: Path) -> None:
    write(tmp_path / "themes/corp/styles.css", ":root { --color-primary: #006400; }")
    (tmp_path / "themes/corp/logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    app = make_app(frontend=FrontendConfig(dir=str(tmp_path), theme="corp"))
    client = app.test_client()
    assert jinja_global(app, "logo_url").startswith("/dex/theme/logo.png?v=")
    assert client.get(stylesheets(app)[1]).data.startswith(b":root { --color-primary: #006400")
    assert client.get(jinja_global(app, "logo_url")).mimetype == "image/png"


def test_missing_frontend_dir_falls_back(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(frontend=FrontendConfig(dir=str(tmp_path / "absent")))
    response = app.test_client().get("/dex/page/password")
    assert response.status_code == 200
    assert Page(response.get_data(as_text=True)).one("input", name="password")
