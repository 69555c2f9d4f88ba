"""Each page template rendered through init_web + render_page: fields, CSRF, escaping, CSP rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.web.html import Page
from tests.web.samples import PAGES

HOSTILE = "<script>alert(1)</script>\"'&"


def render(app: Flask, name: str, **overrides: Any) -> tuple[int, Page]:
    template, status, context = PAGES[name]
    with app.test_request_context():
        from dex_py.web.pages import render_page

        response = render_page(template, status, **{**context, **overrides})
    return response.status_code, Page(response.get_data(as_text=True))


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_has_the_common_frame(app: Flask, name: str) -> None:
    status, page = render(app, name)
    assert status == PAGES[name][1]
    assert page.one("html").attrs["lang"] == "en"
    assert page.one("meta", charset="utf-8")
    assert "width=device-width" in page.one("meta", name="viewport").attrs["content"]
    assert page.one("title").text.strip().endswith("dex-py")
    sheets = [e.attrs["href"] for e in page.all("link", rel="stylesheet")]
    assert [s.split("?")[0] for s in sheets] == ["/dex/static/main.css", "/dex/theme/styles.css"]
    assert page.one("link", rel="icon").attrs["href"].startswith("/dex/static/favicon.svg")
    assert page.one("main").attrs["id"] == "main"
    assert page.one("a", class_="skip-link").attrs["href"] == "#main"
    assert page.one("header") and page.one("footer")
    assert page.one("img", class_="brand-logo").attrs["src"].startswith("/dex/theme/logo.svg?v=")
    assert "dex-py" in page.one("span", class_="brand-name").text
    assert len(page.all("h1")) == 1


@pytest.mark.parametrize("name", sorted(PAGES))
def test_no_inline_styles_and_scripts_only_on_form_post(app: Flask, name: str) -> None:
    _, page = render(app, name)
    assert not [e for e in page.elements if "style" in e.attrs], "inline style= breaks the CSP"
    assert not page.all("style")
    assert not [e for e in page.elements for a in e.attrs if a.startswith("on")]
    scripts = page.all("script")
    if name == "form_post":
        assert len(scripts) == 1 and scripts[0].attrs["nonce"] == PAGES[name][2]["csp_nonce"]
    else:  # only our own script files (the mfa pages' WebAuthn ceremony), never inline code
        assert all(s.attrs.get("src", "").startswith("/dex/static/") for s in scripts)
        assert all(not s.text.strip() for s in scripts)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_hostile_values_are_escaped_everywhere(app: Flask, name: str) -> None:
    context = copy.deepcopy(PAGES[name][2])
    for key, value in context.items():
        if isinstance(value, str) and key != "csp_nonce":
            context[key] = HOSTILE
    if "connectors" in context:
        context["connectors"] = [{"name": HOSTILE, "type": HOSTILE, "url": HOSTILE}]
        context["unavailable"] = [HOSTILE + "x"]
    for key in ("scopes",):
        if key in context:
            context[key] = [HOSTILE]
    for key in ("params", "hidden"):
        if key in context:
            context[key] = [(HOSTILE, HOSTILE)]
    _, page = render(app, name, **context)
    inline = [s for s in page.all("script") if "src" not in s.attrs]
    assert len(inline) == (1 if name == "form_post" else 0)
    assert "<script>alert" not in page.source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.source
    # Attribute values survive escaping intact (the parser unescapes them back).
    for element in page.elements:
        for value in element.attrs.values():
            if value and "alert(1)" in value:
                assert HOSTILE in value


def test_login_lists_connectors_and_marks_unavailable_ones(app: Flask) -> None:
    _, page = render(app, "login", error="The LDAP connector is not reachable.")
    connector_links = {a.attrs["href"]: " ".join(a.text.split()) for a in page.all("a")}
    assert connector_links["/dex/auth/ldap"] == "C Log in with Corporate LDAP"
    assert connector_links["/dex/auth/github"] == "G Log in with GitHub"
    assert "/dex/auth/google" not in connector_links  # down: shown, but not a link
    disabled = [e for e in page.all("span") if e.attrs.get("aria-disabled") == "true"]
    assert len(disabled) == 1
    assert "Log in with Google" in disabled[0].text
    assert "Temporarily unavailable" in disabled[0].text
    assert "The LDAP connector is not reachable." in page.one(role="alert").text


def test_login_shows_down_connectors_missing_from_the_list(app: Flask) -> None:
    _, page = render(app, "login", unavailable=["SAML"])
    disabled = [e for e in page.all("span") if e.attrs.get("aria-disabled") == "true"]
    assert ["Log in with SAML" in e.text for e in disabled] == [True]
    assert page.all(role="alert") == []


def test_login_without_connectors_says_so(app: Flask) -> None:
    _, page = render(app, "login", connectors=[], unavailable=[])
    assert "No login methods are configured." in page.text()


def test_login_accepts_objects_as_connectors(app: Flask) -> None:
    class Connector:
        def __init__(self, name: str, type_: str, url: str) -> None:
            self.name, self.type, self.url = name, type_, url

    _, page = render(app, "login", connectors=[Connector("Mock", "mockCallback", "/dex/auth/m")])
    assert page.one("a", href="/dex/auth/m").text.split()[-1] == "Mock"


def test_password_form_fields(app: Flask) -> None:
    _, page = render(app, "password")
    form = page.one("form")
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == "/dex/auth/ldap/login?state=abc"
    assert page.one("input", name="csrf_token").attrs == {
        "type": "hidden",
        "name": "csrf_token",
        "value": "csrf-123",
    }
    login = page.one("input", name="login")
    assert login.attrs["id"] == "login"
    assert login.attrs["autocomplete"] == "username"
    assert "autofocus" in login.attrs
    assert login.attrs["value"] == ""
    password = page.one("input", name="password")
    assert password.attrs["id"] == "password"
    assert password.attrs["type"] == "password"
    assert password.attrs["autocomplete"] == "current-password"
    assert "autofocus" not in password.attrs
    assert page.one("label", for_="login").text.strip() == "Email Address"
    assert page.one("label", for_="password").text.strip() == "Password"
    submit = page.one("button", id="submit-login")
    assert submit.attrs["type"] == "submit" and "form" in submit.parents
    assert [e.attrs.get("name") for e in page.all("input")] == ["csrf_token", "login", "password"]
    assert page.all(role="alert") == []
    assert page.one("a", href="/dex/auth").text == "Select another login method"
    assert "with Corporate LDAP" in page.text()


def test_password_invalid_shows_an_alert_and_prefills_login(app: Flask) -> None:
    status, page = render(app, "password_invalid")
    assert status == 401
    assert page.one(role="alert").text.strip() == "Invalid username or password."
    login = page.one("input", name="login")
    assert login.attrs["value"] == "jane@example.com"
    assert "autofocus" not in login.attrs
    assert "autofocus" in page.one("input", name="password").attrs
    assert login.attrs["aria-invalid"] == "true"


def test_password_without_back_url_or_prompt(app: Flask) -> None:
    _, page = render(app, "password", back_url=None, username_prompt="")
    assert page.all("a", href="/dex/auth") == []
    assert page.one("label", for_="login").text.strip() == "Username"


def test_approval_form(app: Flask) -> None:
    _, page = render(app, "approval", client_logo_url="https://app.example.com/logo.png")
    form = page.one("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/dex/approval")
    assert page.one("input", name="req").attrs["value"] == "req-42"
    assert page.one("input", name="csrf_token").attrs["value"] == "csrf-123"
    approve, reject = page.all("button")
    assert approve.attrs == {
        "class": "btn btn-primary",
        "id": "approve",
        "type": "submit",
        "name": "approval",
        "value": "approve",
    }
    assert approve.text == "Grant Access"
    assert (reject.attrs["id"], reject.attrs["name"], reject.attrs["value"]) == (
        "reject",
        "approval",
        "rejected",
    )
    assert reject.text == "Cancel"
    scopes = [" ".join(li.text.split()) for li in page.all("li")]
    assert scopes == [
        "View basic profile information",
        "View your email address",
        "View your groups",
        "Have offline access",
    ]
    text = page.text()
    assert "Kubernetes Dashboard wants to access your account" in text
    assert "Jane Doe" in text and "jane@example.com" in text
    assert page.one("img", class_="client-logo").attrs["src"] == "https://app.example.com/logo.png"


def test_approval_without_logo(app: Flask) -> None:
    _, page = render(app, "approval")
    assert page.all("img", class_="client-logo") == []


def test_oob_shows_the_code(app: Flask) -> None:
    _, page = render(app, "oob")
    code = page.one("input", id="code")
    assert code.attrs["value"] == "x7k2-pq9d-4mzv"
    assert "readonly" in code.attrs
    assert page.one("label", for_="code")
    assert (
        "Login successful. Please copy this code, switch to your application and paste it there:"
        in page.text()
    )


def test_error_page(app: Flask) -> None:
    status, page = render(app, "error")
    assert status == 400
    assert page.one("h1").text == "Bad Request"
    assert "Error 400" in page.text()
    assert "The login request has expired." in page.text()
    assert "Bad Request" in page.one("title").text
    assert "Traceback" not in page.source


def test_logout_pages(app: Flask) -> None:
    _, page = render(app, "logout")
    assert "Do you want to log out of dex-py?" in page.text()
    assert "Kubernetes Dashboard" in page.text()
    assert page.one("form").attrs["action"] == "/dex/logout"
    assert page.one("input", name="csrf_token").attrs["value"] == "csrf-123"
    assert page.one("input", name="state").attrs["value"] == "s-1"
    yes, no = page.all("button")
    assert (yes.attrs["value"], no.attrs["value"]) == ("yes", "no")
    assert yes.attrs["type"] == no.attrs["type"] == "submit"
    _, page = render(app, "logged_out")
    assert "You have been logged out." in page.text()
    assert page.one("a", href="https://app.example.com/").text == "Return to Kubernetes Dashboard"


def test_form_post_page(app: Flask) -> None:
    _, page = render(app, "form_post")
    form = page.one("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/received")
    hidden = [(e.attrs["name"], e.attrs["value"]) for e in page.all("input", type="hidden")]
    assert hidden == [("code", "c-123"), ("state", "st<&>\"'")]
    assert "&lt;&amp;&gt;&#34;&#39;" in page.source
    assert 'nonce="bm9uY2UtZm9yLXRlc3Rz"' in page.source
    assert "<noscript>" in page.source  # the parser treats noscript content as markup
    assert page.one("button", id="continue").attrs["type"] == "submit"
    assert "noscript" in page.one("button", id="continue").parents


def test_render_page_headers(app: Flask) -> None:
    response = app.test_client().get("/dex/page/password")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert app.test_client().get("/dex/page/error").status_code == 400
