"""A walk through every console page in a browser, for the layout test and the screenshots:
``tour`` logs in, makes the objects the pages show (a client, a user, a second session) and
yields each page's name once the browser shows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.admin.browser import log_in
from tests.live import EXAMPLE_REDIRECT_URI, LiveServer
from tests.login_flow import example_client, pkce_login

USER_EMAIL = "dana@example.com"
USER_PASSWORD = "dana's long password"
LDAP_EXAMPLE = """host: ldap.example.com:636
bindDN: cn=dex,ou=Services,dc=example,dc=org
bindPW: REDACTED
userSearch:
  baseDN: ou=People,dc=example,dc=org
  username: uid
  idAttr: uid
  emailAttr: mail
  nameAttr: cn
"""
TEAM_RULES = """- regex: '^cn=(?P<name>[^,]+),ou=Groups,.*$'
  team: 'ldap-${name}'
- exact: ops
  team: platform-admins
"""


def _goto(page: Any, server: LiveServer, path: str) -> None:
    resp = page.goto(server.url(path))
    assert resp is not None and resp.status < 500, (path, resp and resp.status)


def tour(page: Any, server: LiveServer) -> Iterator[str]:
    log_in(page, server)
    # objects for the pages to show
    page.goto(server.url("/admin/users/new"))
    page.fill("#f-email", USER_EMAIL)
    page.fill("#f-username", "dana")
    page.fill("#f-password", USER_PASSWORD)
    page.fill("#f-groups", "ops\ncn=developers,ou=Groups,dc=example,dc=org")
    with page.expect_navigation():
        page.click("#save")
    pkce_login(server, example_client(), "openid email offline_access", USER_EMAIL, USER_PASSWORD)
    _goto(page, server, "/admin")
    yield "overview"
    _goto(page, server, "/admin/clients")
    yield "clients"
    _goto(page, server, "/admin/clients/new")
    page.fill("#f-id", "billing")
    page.fill("#f-redirect_uris", "javascript:alert(1)")
    page.fill("#f-logo_url", "not a url")
    with page.expect_navigation():
        page.click("#save")
    yield "client-form-errors"
    page.fill("#f-name", "Billing")
    page.fill("#f-redirect_uris", EXAMPLE_REDIRECT_URI)
    page.fill("#f-logo_url", "")
    with page.expect_navigation():
        page.click("#save")
    yield "client-secret"
    _goto(page, server, "/admin/clients/billing")
    yield "client"
    _goto(page, server, "/admin/clients/example-app")
    yield "client-read-only"
    _goto(page, server, "/admin/clients/billing/delete")
    yield "confirm-delete"
    _goto(page, server, "/admin/connectors")
    yield "connectors"
    _goto(page, server, "/admin/connectors/new")
    page.fill("#f-id", "directory")
    page.fill("#f-name", "Company directory")
    page.fill("#f-config", LDAP_EXAMPLE)
    yield "connector-form"
    _goto(page, server, "/admin/users")
    yield "users"
    _goto(page, server, f"/admin/users/{USER_EMAIL}/edit")
    yield "user-form"
    _goto(page, server, "/admin/teams")
    page.fill("#f-rules", TEAM_RULES)
    with page.expect_navigation():
        page.click("#save-rules")
    _goto(page, server, "/admin/teams?connector=local&groups=ops%0Acn%3Ddevelopers%2Cou%3DGroups")
    yield "teams"
    _goto(page, server, "/admin/sessions")
    yield "sessions"
    _goto(page, server, "/admin/keys")
    yield "keys"
    _goto(page, server, "/admin/audit")
    yield "audit"
    with page.expect_navigation():
        page.click("#logout")
    yield "logged-out"
    page.click("#login-again")  # prompt=login: the password again, here as a non-admin
    page.wait_for_url(server.url("/auth") + "**")
    page.click('a[href*="/auth/local"]')
    page.fill("#login", USER_EMAIL)
    page.fill("#password", USER_PASSWORD)
    with page.expect_navigation(url=server.url("/admin")):
        page.locator("#password").press("Enter")
    yield "forbidden"
