"""Issue 12's "Done when", as an operator meets it: the server `make run` starts (the README's
config, ``config.example.yaml``, unchanged but for its ports and database file, with three
workers), ``/admin`` opened in Chromium, the demo admin logs in, and adds an LDAP connector (a
real OpenLDAP), a client and a user. Each works at once, without a restart, on every worker:
every one of many answers on fresh connections offers the connector, and logins through the
new connector, with the new client and as the new user succeed again and again, their requests
spread over the three workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import yaml

from tests.admin.browser import log_in, need_chromium
from tests.chromium import chromium
from tests.connectors.ldap.conftest import LdapService, pick_ports, start_ldap, stop_ldap
from tests.live import LiveServer, example_config_server, verify_id_token
from tests.login_flow import example_client, pkce_login

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.ldap]

WORKERS = 3
ROUNDS = 5  # logins per new object; each spans several requests on fresh connections
ANSWERS = 30  # readiness answers on fresh connections: every worker gives some of them
DEMO_ADMIN = ("admin@example.com", "password")  # the README's demo login
NEW_USER = ("made-by-the-operator@example.com", "typed into the console once")
REDIRECT_URI = "http://127.0.0.1:5555/callback"  # the example app's, as in the config


@pytest.fixture(scope="module")
def directory() -> Iterator[LdapService]:
    service = start_ldap(*pick_ports(14010, 16480))
    yield service
    stop_ldap(service.port)


@pytest.fixture
def make_run_server() -> Iterator[LiveServer]:
    with example_config_server(WORKERS) as server:
        yield server


def test_an_operator_adds_a_connector_a_client_and_a_user_that_work_at_once_everywhere(
    make_run_server: LiveServer, directory: LdapService
) -> None:
    need_chromium()
    server = make_run_server
    with chromium() as browser:
        page = browser.new_context().new_page()
        log_in(page, server, *DEMO_ADMIN)
        assert page.inner_text("#admin-name") == DEMO_ADMIN[0]

        page.goto(server.url("/admin/connectors/new"))
        page.fill("#f-id", "directory")
        page.select_option("#f-type", "ldap")
        page.fill("#f-name", "Company directory")
        page.fill("#f-config", yaml.safe_dump(directory.config("starttls"), sort_keys=False))
        with page.expect_navigation():
            page.click("#test")
        assert page.locator("#test-ok").count() == 1, page.content()
        with page.expect_navigation():
            page.click("#save")

        page.goto(server.url("/admin/clients/new"))
        page.fill("#f-id", "operators-app")
        page.fill("#f-name", "The operator's app")
        page.fill("#f-redirect_uris", REDIRECT_URI)
        with page.expect_navigation():
            page.click("#save")
        secret = page.inner_text("#client-secret").strip()

        page.goto(server.url("/admin/users/new"))
        page.fill("#f-email", NEW_USER[0])
        page.fill("#f-username", "operator-made")
        page.fill("#f-password", NEW_USER[1])
        with page.expect_navigation():
            page.click("#save")
        assert NEW_USER[0] in page.inner_text("#users")

    for _ in range(ANSWERS):
        ready = requests.get(server.url("/healthz/ready"), timeout=10).json()
        assert ready["connectors"].get("directory") == "ok", ready

    app = example_client(client_id="operators-app", client_secret=secret)
    for _ in range(ROUNDS):
        token, nonce = pkce_login(
            server, app, "openid email groups", "alice", "alice-secret", connector_id="directory"
        )
        claims = verify_id_token(
            server.issuer, token["id_token"], audience="operators-app", nonce=nonce
        )
        assert claims["email"] == "alice@example.org"
        token, nonce = pkce_login(server, app, "openid email", *NEW_USER)
        claims = verify_id_token(
            server.issuer, token["id_token"], audience="operators-app", nonce=nonce
        )
        assert claims["email"] == NEW_USER[0]
