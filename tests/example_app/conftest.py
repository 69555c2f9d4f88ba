"""Fixtures for the example-app tests: the app wired to the session's live issuer, and a helper
that runs the whole login flow through it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from dex_py.example_app import create_example_app
from tests.example_app.pages import form_fields
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
)
from tests.login_flow import login_password

DEFAULT_SCOPES = {"profile": "1", "email": "1", "groups": "1", "offline_access": "1"}


@pytest.fixture
def example_app(live_issuer: LiveServer) -> Flask:
    return create_example_app(
        live_issuer.issuer, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI
    )


def start_login(client: FlaskClient, **form: str) -> str:
    """Submit the home page's form; return the issuer authorize URL the app redirects to."""
    csrf = form_fields(client.get("/").get_data(as_text=True), "/login")["csrf_token"]
    resp = client.post("/login", data={"csrf_token": csrf, **(form or DEFAULT_SCOPES)})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return resp.headers["Location"]


def callback_path(redirect_url: str) -> str:
    """The example app's path+query for the issuer's redirect back to the client."""
    assert redirect_url.startswith(EXAMPLE_REDIRECT_URI + "?"), redirect_url
    parts = urlsplit(redirect_url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def log_in(example_app: Flask) -> Callable[..., tuple[FlaskClient, str]]:
    """``log_in(**scopes) -> (client, tokens page HTML)``: the whole flow, home to claims."""

    def run(**form: str) -> tuple[FlaskClient, str]:
        client = example_app.test_client()
        authorize_url = start_login(client, **form)
        with requests.Session() as browser:
            redirect_url = login_password(browser, authorize_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        resp = client.get(callback_path(redirect_url))
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, html
        return client, html

    return run
