"""Issue 12, item 6: in Chromium, an admin adds an LDAP connector (a real OpenLDAP,
``tests/services/openldap.py``) in the console after testing the connection, and users log in
through it at once, without a restart of the live server (two workers): an application's login
(authlib's client, PKCE), and the console itself for a directory user whose group a stored team
rule, added in the console too, makes an admin team."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml

from tests.admin.browser import log_in, need_chromium, start_console
from tests.chromium import chromium
from tests.connectors.ldap.conftest import LdapService, pick_ports, start_ldap, stop_ldap
from tests.live import ADMIN_EMAIL, LiveServer, verify_id_token
from tests.login_flow import example_client, pkce_login

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.ldap]

CONSOLE_LDAP_PORT_BASE = 13970
CONSOLE_LDAPS_PORT_BASE = 16440


@pytest.fixture(scope="module")
def ldap_dir() -> Iterator[LdapService]:
    service = start_ldap(*pick_ports(CONSOLE_LDAP_PORT_BASE, CONSOLE_LDAPS_PORT_BASE))
    yield service
    stop_ldap(service.port)


def test_an_ldap_connector_added_in_the_console_works_at_once(
    make_live_server: Callable[..., LiveServer], ldap_dir: LdapService
) -> None:
    need_chromium()
    server = start_console(
        make_live_server, admin={"emails": [ADMIN_EMAIL], "teams": ["directory-admins"]}
    )
    config = yaml.safe_dump(ldap_dir.config("starttls"), sort_keys=False)
    with chromium() as browser:
        page = browser.new_context().new_page()
        log_in(page, server, path="/admin/connectors/new")
        page.fill("#f-id", "directory")
        page.select_option("#f-type", "ldap")
        page.fill("#f-name", "Company directory")
        page.fill("#f-config", config)
        with page.expect_navigation():
            page.click("#test")
        assert page.locator("#test-ok").count() == 1, page.content()
        with page.expect_navigation():
            page.click("#save")
        row = page.inner_text("#connectors tr:has-text('directory')")
        assert "ldap" in row and "ok" in row

        # an application's login through the new connector, on whichever worker answers
        client = example_client()
        token, nonce = pkce_login(
            server,
            client,
            "openid email groups",
            "alice",
            "alice-secret",
            connector_id="directory",
        )
        claims = verify_id_token(
            server.issuer, token["id_token"], audience="example-app", nonce=nonce
        )
        assert claims["email"] == "alice@example.org" and "admins" in claims["groups"]

        # a stored team rule makes the directory's admins an admin team of the console
        page.goto(server.url("/admin/teams"))
        page.fill("#f-rules", "- exact: admins\n  team: directory-admins\n")
        with page.expect_navigation():
            page.click("#save-rules")
        assert "Saved." in page.inner_text("#notice")

        alice = browser.new_context().new_page()
        alice.goto(server.url("/admin"))
        alice.wait_for_url(server.url("/auth") + "**")
        alice.click('a[href*="/auth/directory"]')
        alice.fill("#login", "alice")
        alice.fill("#password", "alice-secret")
        with alice.expect_navigation(url=server.url("/admin")):
            alice.locator("#password").press("Enter")
        assert alice.inner_text("#admin-name") == "alice@example.org"
        assert "Company directory" in alice.inner_text("#connector-states")
