"""What the console's pages show: the overview's health, counts and chart, the objects of
each section with where they come from, the teams explainer and the audit log's filters."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from dex_py import __version__
from tests.admin.conftest import ADMIN_EMAIL, USER_EMAIL, App, console_login


@pytest.fixture
def browser(console: App) -> FlaskClient:
    b = console.client()
    assert console_login(b).status_code == 200
    return b


def text(browser: FlaskClient, path: str, status: int = 200) -> str:
    resp = browser.get(path)
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_data(as_text=True)


def test_overview(console: App, browser: FlaskClient) -> None:
    console_login(console.client(), USER_EMAIL, "wrong")  # a failed login for the chart
    html = text(browser, "/dex/admin")
    assert f'id="version">{__version__}<' in html
    assert re.search(
        r'<svg class="chart"[^>]*aria-label="Logins in the last 24 hours: 1 successful, 1 failed"',
        html,
    )
    assert 'class="bar-bad"' in html and 'class="bar-ok"' in html
    assert 'Storage</dt><dd><span class="badge">ok' in html
    assert re.search(r'tile-value">1</span><span class="tile-label">Sessions', html)
    assert "Example" in html  # the mock connector's state


def test_clients_show_where_they_come_from(browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/clients")
    assert "example-app" in html and "dex-py-admin" in html
    assert html.count('class="badge">config<') == 3 and 'class="badge">built-in<' in html
    detail = text(browser, "/dex/admin/clients/example-app")
    assert "http://127.0.0.1:5555/callback" in detail and 'id="read-only"' in detail
    text(browser, "/dex/admin/clients/nope", 404)


def test_connectors_show_their_state(browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/connectors")
    assert "mockCallback" in html and 'class="badge">ok<' in html


def test_users_list_config_users_read_only(browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/users")
    assert ADMIN_EMAIL in html and USER_EMAIL in html and "staff" in html
    assert html.count('class="badge">config<') == 2


def test_sessions_per_user_and_client(console: App, browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/sessions")
    assert ADMIN_EMAIL in html and "Single sign-on sessions (1)" in html
    uid = console.storage.list_sessions()[0].claims.user_id
    assert "Single sign-on sessions (1)" in text(browser, f"/dex/admin/sessions?user={uid}")
    assert "Single sign-on sessions (0)" in text(browser, "/dex/admin/sessions?user=nobody")
    assert "Refresh tokens (0)" in text(browser, "/dex/admin/sessions?client=example-app")


def test_keys_and_jwks(console: App, browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/keys")
    kid = console.svc.keys.signer().kid
    assert kid in html and 'class="badge">signing<' in html and '"keys"' in html


def test_teams_explainer(make_console, console: App) -> None:  # type: ignore[no-untyped-def]
    dex = make_console(
        teams={"rules": [{"glob": "acme:*", "team": "acme"}, {"exact": "x", "drop": True}]}
    )
    b = dex.client()
    console_login(b)
    html = text(b, "/dex/admin/teams?connector=local&groups=acme%3Aops%0Ax%0Aother")
    assert "glob &#39;acme:*&#39;" in html and "(dropped)" in html and "unmatched: keep" in html
    assert re.search(r'id="resulting-teams"><strong>Teams:</strong> acme, other<', html)
    html = text(b, "/dex/admin/teams?connector=nope&groups=a", 400)
    assert 'id="connector-error">No such connector.' in html


def test_audit_log_filters_and_bad_input(console: App, browser: FlaskClient) -> None:
    html = text(browser, "/dex/admin/audit?event=admin")
    assert "console.login" in html and 'class="badge">success<' in html
    assert "console.login" not in text(browser, "/dex/admin/audit?event=login")
    html = text(browser, "/dex/admin/audit?since=yesterday", 400)
    assert 'id="f-since-error"' in html and "Traceback" not in html
    html = text(browser, f"/dex/admin/audit?object=user:{ADMIN_EMAIL}")
    assert "console.login" in html
    assert "console.login" not in text(browser, "/dex/admin/audit?object=nobody")


def test_audit_log_pages(console: App, browser: FlaskClient) -> None:
    from datetime import timedelta

    from dex_py.storage.base import AuditRecord

    now = console.clock.now()
    for i in range(60):
        console.storage.create_audit_record(
            AuditRecord(
                id=f"r{i:03}",
                time=now - timedelta(minutes=i + 1),
                event="login",
                outcome="success",
                actor=f"user-{i}",
            )
        )
    first = text(browser, "/dex/admin/audit?event=login")
    m = re.search(r'href="([^"]+)" id="older"', first)
    assert m
    second = text(browser, m.group(1).replace("&amp;", "&"))
    on_first = set(re.findall(r"<td>(user-\d+)</td>", first))
    on_second = set(re.findall(r"<td>(user-\d+)</td>", second))
    assert len(on_first) == 49 and "user-0" in on_first  # the 50th row is the admin's login
    assert on_first.isdisjoint(on_second)
    assert on_first | on_second == {f"user-{i}" for i in range(60)}
    assert 'id="older"' not in second
