"""Sessions that end elsewhere: a user taken out of the team's LDAP group (with ``ldapmodify``)
loses access at the proxy's next refresh; signing out at one app (nginx, client ``a``) signs the
user out at another app of the same issuer (Caddy, client ``b``) through RP-initiated logout and
the issuer's back-channel logout to the proxy's server-side session store."""

from __future__ import annotations

import subprocess
import time
import uuid
from urllib.parse import urljoin

import pytest
import requests
from ldap3 import MODIFY_ADD

from tests.connectors.ldap.conftest import Directory, LdapService
from tests.proxy_front.conftest import Stack
from tests.proxy_front.stack import log_in

pytestmark = [pytest.mark.ldap, pytest.mark.live, pytest.mark.slow]

REFRESH = 2.0  # the proxy's session.refreshInterval in these tests, seconds
WAIT = 30.0  # upper bound for a background delivery; never the thing under test


def ldapmodify(ldap: LdapService, ldif: str) -> None:
    subprocess.run(
        ["ldapmodify", "-x", "-H", ldap.url, "-D", ldap.admin_dn, "-w", ldap.admin_pw],
        input=ldif,
        text=True,
        capture_output=True,
        timeout=30,
        check=True,
    )


def test_removed_from_the_team_loses_access_at_the_next_refresh(
    stack: Stack, ldap_service: LdapService, directory: Directory
) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    uid = f"member-{directory.tag}"
    user_dn = directory.add_user(uid, "member-secret")
    group_dn = directory.add_group(team, ["uid=bob,ou=People,dc=example,dc=org"])
    directory.modify(group_dn, {"member": [(MODIFY_ADD, [user_dn])]})
    stack.nginx(
        "a", refresh_interval=f"{REFRESH:.0f}s", rules=[{"path": "/", "allow": {"teams": [team]}}]
    )
    front = stack.clients["a"].front

    browser, page = log_in(front, uid, "member-secret")
    assert page.status_code == 200, stack.logs()
    time.sleep(REFRESH + 0.5)
    refreshed = browser.get(front + "/hello", allow_redirects=False, timeout=10)
    assert refreshed.status_code == 200, "a refresh that keeps the team keeps access"

    ldapmodify(
        ldap_service, f"dn: {group_dn}\nchangetype: modify\ndelete: member\nmember: {user_dn}\n"
    )
    time.sleep(REFRESH + 0.5)
    after = browser.get(front + "/hello", allow_redirects=False, timeout=10)
    assert after.status_code == 403, (after.status_code, stack.logs())


def test_deleted_user_must_log_in_again_after_the_refresh(
    stack: Stack, directory: Directory
) -> None:
    uid = f"leaver-{directory.tag}"
    user_dn = directory.add_user(uid, "leaver-secret")
    stack.nginx(
        "a",
        refresh_interval=f"{REFRESH:.0f}s",
        rules=[{"path": "/", "allow": {"authenticated": True}}],
    )
    front = stack.clients["a"].front
    browser, page = log_in(front, uid, "leaver-secret")
    assert page.status_code == 200, stack.logs()
    directory.delete(user_dn)
    time.sleep(REFRESH + 0.5)
    after = browser.get(front + "/hello", allow_redirects=False, timeout=10)
    assert after.status_code == 302, (after.status_code, stack.logs())
    assert "/oauth2/start" in after.headers["Location"]


def follow_until(browser: requests.Session, url: str, stop_at: str) -> requests.Response:
    """GET ``url`` and follow redirects until one points at ``stop_at`` (not requested)."""
    resp = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(10):
        if not resp.is_redirect:
            return resp
        location = urljoin(resp.url, resp.headers["Location"])
        if location.startswith(stop_at):
            return resp
        resp = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"too many redirects from {url}")


def test_sign_out_at_one_app_signs_out_at_the_other(stack: Stack) -> None:
    stack.nginx("a")
    stack.caddy("b")
    app_a, app_b = stack.clients["a"].front, stack.clients["b"].front
    browser, page_a = log_in(app_a, "alice", "alice-secret")
    assert page_a.status_code == 200, stack.logs()
    # Single sign-on: app B logs in at the issuer without a password form.
    page_b = follow_until(browser, app_b + "/hello", app_b + "/hello")
    assert page_b.is_redirect, page_b.text[:300]
    page_b = browser.get(app_b + "/hello", allow_redirects=False, timeout=10)
    assert page_b.status_code == 200, (page_b.status_code, stack.logs())

    # Sign out at A: its cookie goes, the issuer ends the SSO session (RP-initiated logout).
    out = follow_until(browser, app_a + "/oauth2/sign_out", app_a + "/signed-out")
    assert out.is_redirect, (out.status_code, out.text[:300])
    assert not [c for c in browser.cookies if c.name.startswith("_dexpy_a")]
    assert [c for c in browser.cookies if c.name.startswith("_dexpy_b")], "B's cookie stays"
    assert browser.get(app_a + "/hello", allow_redirects=False, timeout=10).status_code == 302

    # B still has its cookie; only the issuer's back-channel logout can end that session.
    deadline = time.monotonic() + WAIT
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = browser.get(app_b + "/hello", allow_redirects=False, timeout=10).status_code
        if status == 200:
            time.sleep(0.2)
    assert status == 302, f"app B still serves the signed-out user\n{stack.logs()}"
