"""Connectors and team rules through the console (in-process): add a connector after "test
connection", edit and delete it; the stored team rules edited as YAML next to config.yaml's
read-only ones, and an admin by team who stops being one as soon as a stored rule changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.admin.conftest import ADMIN_EMAIL, USER_EMAIL, App, console_login, csrf_of
from tests.admin.test_changes import admin_actions, get, submit

MOCK_CONFIG = ""  # mockCallback needs no settings


@pytest.fixture
def browser(console: App) -> FlaskClient:
    b = console.client()
    assert console_login(b).status_code == 200
    return b


def test_config_connectors_are_read_only(browser: FlaskClient) -> None:
    html = get(browser, "/dex/admin/connectors")
    assert "mockCallback" in html and "/dex/admin/connectors/mock/edit" not in html
    get(browser, "/dex/admin/connectors/mock/edit", 404)
    get(browser, "/dex/admin/connectors/mock/delete", 404)
    get(browser, "/dex/admin/connectors/local/delete", 404)


def test_add_a_connector_after_testing_it(console: App, browser: FlaskClient) -> None:
    form = {"id": "mock2", "type": "mockCallback", "name": "Second mock", "config": MOCK_CONFIG}
    tested = submit(browser, "/dex/admin/connectors/new", {**form, "action": "test"}, 200)
    assert 'id="test-ok"' in tested.get_data(as_text=True)
    assert "mock2" not in {c.id for c in console.storage.list_connectors()}  # tested, not saved
    submit(browser, "/dex/admin/connectors/new", {**form, "action": "save"})
    html = get(browser, "/dex/admin/connectors?done=created")
    assert "Second mock" in html and "Created." in html
    assert console.svc.connectors.get("mock2") is not None  # running at once
    assert "/dex/auth/mock2" in console.client().get(
        "/dex/auth?client_id=example-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback"
        "&response_type=code&scope=openid&state=s"
    ).get_data(as_text=True)  # on the login page
    submit(
        browser, "/dex/admin/connectors/mock2/edit", {**form, "name": "Renamed", "action": "save"}
    )
    assert console.storage.get_connector("mock2").name == "Renamed"
    submit(browser, "/dex/admin/connectors/mock2/delete", {})
    assert "mock2" not in {c.id for c in console.storage.list_connectors()}
    assert {"connector.create", "connector.update", "connector.delete"} <= set(
        admin_actions(console)
    )


def test_a_connector_that_cannot_connect_is_not_saved(console: App, browser: FlaskClient) -> None:
    form = {
        "id": "ldap1",
        "type": "ldap",
        "name": "Directory",
        "config": "host: 127.0.0.1:1\ninsecureNoSSL: true\nbindDN: cn=x\nbindPW: y\n"
        "userSearch:\n  baseDN: dc=example\n  username: uid\n  idAttr: uid\n"
        "  emailAttr: mail\n  nameAttr: cn\n",
        "action": "save",
    }
    resp = submit(browser, "/dex/admin/connectors/new", form, 400)
    html = resp.get_data(as_text=True)
    assert 'id="f-config-error"' in html and "Traceback" not in html
    assert "ldap1" not in {c.id for c in console.storage.list_connectors()}


def test_bad_connector_input(console: App, browser: FlaskClient) -> None:
    resp = submit(
        browser,
        "/dex/admin/connectors/new",
        {"id": "bad id!", "type": "mockCallback", "name": "", "config": "a: [1,", "action": "save"},
        400,
    )
    html = resp.get_data(as_text=True)
    assert 'id="f-config-error">not valid YAML' in html
    resp = submit(
        browser,
        "/dex/admin/connectors/new",
        {"id": "bad id!", "type": "mockCallback", "name": "", "config": "", "action": "save"},
        400,
    )
    html = resp.get_data(as_text=True)
    assert 'id="f-id-error"' in html and 'id="f-name-error"' in html
    taken = submit(
        browser,
        "/dex/admin/connectors/new",
        {"id": "mock", "type": "mockCallback", "name": "x", "config": "", "action": "save"},
        400,
    )
    assert 'id="f-id-error">is already taken' in taken.get_data(as_text=True)


def test_stored_team_rules(console: App, browser: FlaskClient) -> None:
    rules = "- exact: staff\n  team: platform\n"
    html = get(browser, "/dex/admin/teams")
    resp = browser.post(
        "/dex/admin/teams/rules",
        data={
            "csrf_token": csrf_of(html, "/dex/admin/teams/rules"),
            "rules": rules,
            "version": "0",
        },
    )
    assert resp.status_code == 303
    html = get(browser, "/dex/admin/teams?connector=local&groups=staff")
    assert "stored rules[0]" in html and 'class="badge">stored<' in html
    assert "<strong>Teams:</strong> platform<" in html
    bad = browser.post(
        "/dex/admin/teams/rules",
        data={
            "csrf_token": csrf_of(html, "/dex/admin/teams/rules"),
            "rules": "- exact: x\n  bogus: 1\n",
            "version": "1",
        },
    )
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert 'id="f-rules-error"' in text and "rules[0]" in text and "bogus" in text
    broken = browser.post(
        "/dex/admin/teams/rules",
        data={
            "csrf_token": csrf_of(html, "/dex/admin/teams/rules"),
            "rules": "- [",
            "version": "1",
        },
    )
    assert broken.status_code == 400 and "not valid YAML" in broken.get_data(as_text=True)
    assert "team_rules.update" in admin_actions(console)


def test_config_team_rules_are_shown_read_only(make_console: Callable[..., App]) -> None:
    dex = make_console(teams={"rules": [{"glob": "acme:*", "team": "acme"}]})
    b = dex.client()
    console_login(b)
    html = get(b, "/dex/admin/teams")
    assert "acme:*" in html and 'class="badge">config<' in html
    assert "acme:*" not in html.split('id="f-rules"')[1].split("</textarea>")[0]  # not editable


def test_an_admin_by_a_stored_team_rule_loses_access_when_it_changes(
    make_console: Callable[..., App],
) -> None:
    dex = make_console(admin={"emails": [ADMIN_EMAIL], "teams": ["platform-admins"]})
    admin = dex.client()
    html = console_login(admin).get_data(as_text=True)
    user = dex.client()
    assert console_login(user, USER_EMAIL).status_code == 403  # "staff" is no admin team
    html = get(admin, "/dex/admin/teams")
    admin.post(
        "/dex/admin/teams/rules",
        data={
            "csrf_token": csrf_of(html, "/dex/admin/teams/rules"),
            "rules": "- exact: staff\n  team: platform-admins\n",
        },
    )
    assert user.get("/dex/admin/users").status_code == 200  # an admin now, no new login
    html = get(admin, "/dex/admin/teams")
    admin.post(
        "/dex/admin/teams/rules",
        data={"csrf_token": csrf_of(html, "/dex/admin/teams/rules"), "rules": ""},
    )
    assert user.get("/dex/admin/users").status_code == 403  # and no longer, at once
    assert user.post("/dex/admin/users/new", data={"email": "x@example.com"}).status_code == 403
