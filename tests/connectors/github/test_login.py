"""The ``github`` connector against the fake GitHub Enterprise Server over HTTPS (test CA as
``rootCA``): the web flow, identity, email choice, org/team rules, pagination and refresh."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import CallbackRequest, ConnectorError, Identity, Scopes
from connectors.github import GitHubConnector, pick_email
from tests.connectors.github.fake_github import FakeGitHub, FakeUser
from tests.services import free_port

CALLBACK = "http://127.0.0.1:5556/dex/callback"
GROUPS = Scopes(groups=True, offline_access=True)
MakeConnector = Callable[..., GitHubConnector]


def _email(address: str, *, primary: bool = False, verified: bool = True) -> dict:
    return {"email": address, "primary": primary, "verified": verified, "visibility": None}


@pytest.fixture
def jane(fake_github: FakeGitHub) -> FakeUser:
    """A member of acme (teams Platform Team/platform-team and Ops/ops) and of oss."""
    user = fake_github.add_user(
        FakeUser(
            id=4242,
            login="jane",
            name="Jane Doe",
            email="jane@public.example",
            emails=[
                _email("jane@public.example", primary=True),
                _email("jane@old.acme.com", verified=False),
                _email("jane@eng.acme.com"),
            ],
            orgs=["acme", "oss"],
            teams=[("acme", "Platform Team", "platform-team"), ("acme", "Ops", "ops")],
        )
    )
    fake_github.next_login = "jane"
    return user


def browser_login(
    conn: GitHubConnector,
    ca_path: Path,
    scopes: Scopes = GROUPS,
    state: str = "authreq-1",
) -> tuple[CallbackRequest, bytes | None]:
    """What the browser does: follow login_url to the fake, which redirects back."""
    url, login_state = conn.login_url(scopes, CALLBACK, state)
    resp = requests.get(url, allow_redirects=False, verify=str(ca_path), timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    args = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return CallbackRequest(url=location, args=args), login_state


def log_in(conn: GitHubConnector, ca_path: Path, scopes: Scopes = GROUPS) -> Identity:
    request, login_state = browser_login(conn, ca_path, scopes)
    return conn.handle_callback(scopes, request, login_state)


# --- the web flow --------------------------------------------------------------------------------


def test_redirect_and_state_round_trip(make_connector, fake_github, jane, ca_path) -> None:
    conn = make_connector(orgs=[{"name": "acme"}])
    request, login_state = browser_login(conn, ca_path, state="authreq-77")
    (authorize,) = fake_github.authorize_requests
    assert authorize == {
        "client_id": "gh-client",
        "redirect_uri": CALLBACK,
        "scope": "user:email read:org",
        "state": "authreq-77",
    }
    assert request.url.startswith(CALLBACK + "?")
    assert request.args["state"] == "authreq-77" and request.args["code"]
    identity = conn.handle_callback(GROUPS, request, login_state)
    assert identity.user_id == "4242"
    (exchange,) = fake_github.token_requests
    assert exchange["redirect_uri"] == CALLBACK
    assert exchange["code"] == request.args["code"]
    assert exchange["client_secret"] == "gh-secret"
    assert exchange["_accept"] == "application/json"


def test_configured_redirect_uri_is_sent_and_exchanged(make_connector, fake_github, jane, ca_path):
    conn = make_connector(redirectURI="https://dex.example/dex/callback")
    request, login_state = browser_login(conn, ca_path)
    assert request.url.startswith("https://dex.example/dex/callback?")
    conn.handle_callback(GROUPS, request, login_state)
    assert fake_github.token_requests[0]["redirect_uri"] == "https://dex.example/dex/callback"


def test_mismatched_or_missing_state_is_refused(make_connector, jane, ca_path) -> None:
    conn = make_connector()
    request, login_state = browser_login(conn, ca_path)
    forged = CallbackRequest(url=request.url, args={**request.args, "state": "other"})
    with pytest.raises(ConnectorError, match="mismatched state"):
        conn.handle_callback(GROUPS, forged, login_state)
    with pytest.raises(ConnectorError, match="not started here"):
        conn.handle_callback(GROUPS, request, None)


def test_user_denying_access_is_reported(make_connector, fake_github, jane, ca_path) -> None:
    fake_github.deny = True
    conn = make_connector()
    request, login_state = browser_login(conn, ca_path)
    assert request.args["error"] == "access_denied"
    with pytest.raises(ConnectorError, match="denied your application access"):
        conn.handle_callback(GROUPS, request, login_state)


def test_a_code_works_once(make_connector, jane, ca_path) -> None:
    conn = make_connector()
    request, login_state = browser_login(conn, ca_path)
    conn.handle_callback(GROUPS, request, login_state)
    with pytest.raises(ConnectorError, match="incorrect or expired"):
        conn.handle_callback(GROUPS, request, login_state)


def test_wrong_client_secret_is_reported_without_the_secret(make_connector, jane, ca_path):
    conn = make_connector(clientSecret="not-the-secret")
    request, login_state = browser_login(conn, ca_path)
    with pytest.raises(ConnectorError) as info:
        conn.handle_callback(GROUPS, request, login_state)
    assert "client_secret passed are incorrect" in str(info.value)
    assert "not-the-secret" not in str(info.value)


def test_without_root_ca_the_enterprise_certificate_is_not_trusted(
    ghe_config, jane, ca_path
) -> None:
    conn = GitHubConnector.open({**ghe_config, "rootCA": ""}, connector_id="github")
    request, login_state = browser_login(conn, ca_path)
    with pytest.raises(ConnectorError, match="could not be reached"):
        conn.handle_callback(GROUPS, request, login_state)


# --- who the user is ----------------------------------------------------------------------------


def test_identity_from_user_endpoint(make_connector, jane, ca_path) -> None:
    identity = log_in(make_connector(), ca_path)
    assert identity.user_id == "4242"
    assert identity.username == "Jane Doe"
    assert identity.preferred_username == "jane"
    assert identity.email == "jane@public.example" and identity.email_verified
    assert identity.groups == ()  # no orgs, no loadAllGroups: no groups
    assert json.loads(identity.connector_data or b"")["accessToken"].startswith("gho_")


def test_without_org_settings_no_org_endpoints_are_read(make_connector, fake_github, jane, ca_path):
    log_in(make_connector(), ca_path)
    assert fake_github.api_requests == ["/api/v3/user"]  # public email: /user/emails not needed


def test_use_login_as_id_and_missing_name(make_connector, fake_github, jane, ca_path) -> None:
    jane.name = None
    identity = log_in(make_connector(useLoginAsID=True), ca_path)
    assert identity.user_id == "jane"
    assert identity.username == "jane"


def test_private_email_comes_from_the_verified_primary(make_connector, fake_github, jane, ca_path):
    jane.email = None
    jane.emails = [
        _email("other@acme.com"),
        _email("unverified@acme.com", primary=True, verified=False),
    ]
    with pytest.raises(ConnectorError, match="no verified primary email"):
        log_in(make_connector(), ca_path)
    jane.emails.append(_email("jane@private.example", primary=True))
    assert log_in(make_connector(), ca_path).email == "jane@private.example"
    assert "/api/v3/user/emails?per_page=100" in fake_github.api_requests


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("acme.com", "jane@public.example"),  # only *subdomains* of acme.com are listed
        ("*.acme.com", "jane@eng.acme.com"),  # the unverified old.acme.com is skipped
        ("eng.acme.com", "jane@eng.acme.com"),
        ("EXAMPLE.org", "jane@public.example"),  # no match: the verified primary
    ],
)
def test_preferred_email_domain(make_connector, jane, ca_path, domain, expected) -> None:
    identity = log_in(make_connector(preferredEmailDomain=domain), ca_path)
    assert identity.email == expected


def test_pick_email_ignores_malformed_entries() -> None:
    emails = [None, {"email": 5, "verified": True}, _email("a@b.c", primary=True)]
    assert pick_email(emails) == "a@b.c"


# --- orgs, teams and groups ---------------------------------------------------------------------


def test_org_and_team_groups_for_configured_orgs(make_connector, fake_github, jane, ca_path):
    jane.orgs.append("unlisted")
    jane.teams.append(("unlisted", "Hidden", "hidden"))
    conn = make_connector(orgs=[{"name": "acme", "teams": ["platform-team"]}, {"name": "oss"}])
    identity = log_in(conn, ca_path)
    assert identity.groups == ("acme", "acme:Platform Team", "oss")


def test_org_without_team_list_yields_all_its_teams(make_connector, jane, ca_path) -> None:
    identity = log_in(make_connector(orgs=[{"name": "ACME"}]), ca_path)
    assert identity.groups == ("ACME", "ACME:Platform Team", "ACME:Ops")


def test_refused_when_not_in_a_required_org(make_connector, jane, ca_path) -> None:
    conn = make_connector(orgs=[{"name": "globex"}, {"name": "initech", "teams": ["a"]}])
    with pytest.raises(ConnectorError, match="jane is not a member of a required organization"):
        log_in(conn, ca_path)


def test_refused_when_in_the_org_but_not_a_listed_team(make_connector, jane, ca_path) -> None:
    conn = make_connector(orgs=[{"name": "acme", "teams": ["Security"]}])
    with pytest.raises(ConnectorError, match="required organization or team"):
        log_in(conn, ca_path)


def test_org_membership_is_enforced_even_without_groups_scope(make_connector, jane, ca_path):
    conn = make_connector(orgs=[{"name": "globex"}])
    with pytest.raises(ConnectorError):
        log_in(conn, ca_path, scopes=Scopes())


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("name", ("acme", "acme:Platform Team", "acme:Ops")),
        ("slug", ("acme", "acme:platform-team", "acme:ops")),
        ("both", ("acme", "acme:Platform Team", "acme:platform-team", "acme:Ops", "acme:ops")),
    ],
)
def test_team_name_field(make_connector, jane, ca_path, field, expected) -> None:
    conn = make_connector(orgs=[{"name": "acme"}], teamNameField=field)
    assert log_in(conn, ca_path).groups == expected


def test_team_list_matches_names_or_slugs(make_connector, jane, ca_path) -> None:
    conn = make_connector(orgs=[{"name": "acme", "teams": ["Platform Team", "ops"]}])
    assert log_in(conn, ca_path).groups == ("acme", "acme:Platform Team", "acme:Ops")


def test_load_all_groups(make_connector, fake_github, jane, ca_path) -> None:
    conn = make_connector(loadAllGroups=True, teamNameField="slug")
    assert log_in(conn, ca_path).groups == ("acme", "oss", "acme:platform-team", "acme:ops")
    fake_github.api_requests.clear()
    assert log_in(conn, ca_path, scopes=Scopes()).groups == ()  # not asked for groups
    assert "/api/v3/user/teams?per_page=100" not in fake_github.api_requests


def test_load_all_groups_with_orgs_still_requires_membership(make_connector, jane, ca_path):
    conn = make_connector(loadAllGroups=True, orgs=[{"name": "oss"}])
    assert log_in(conn, ca_path).groups == ("acme", "oss", "acme:Platform Team", "acme:Ops")
    conn = make_connector(loadAllGroups=True, orgs=[{"name": "globex"}])
    with pytest.raises(ConnectorError, match="required organization"):
        log_in(conn, ca_path)


def test_legacy_org_requires_membership_and_yields_bare_team_names(make_connector, jane, ca_path):
    assert log_in(make_connector(org="acme"), ca_path).groups == ("Platform Team", "Ops")
    with pytest.raises(ConnectorError, match="not a member of the required organization"):
        log_in(make_connector(org="globex"), ca_path)


def test_pagination_follows_next_links(make_connector, fake_github, jane, ca_path) -> None:
    fake_github.max_page_size = 2
    jane.email = None
    jane.emails = [_email(f"old{i}@x.example") for i in range(4)]
    jane.emails.append(_email("jane@last-page.example", primary=True))
    jane.orgs = [f"org{i}" for i in range(5)]
    jane.teams = [("org4", f"Team {i}", f"team-{i}") for i in range(5)]
    identity = log_in(make_connector(orgs=[{"name": "org4", "teams": ["team-4"]}]), ca_path)
    assert identity.email == "jane@last-page.example"
    assert identity.groups == ("org4", "org4:Team 4")
    for endpoint in ("emails", "orgs", "teams"):
        assert f"/api/v3/user/{endpoint}?per_page=2&page=3" in fake_github.api_requests


def test_pagination_never_leaves_the_api_host(make_connector, fake_github, jane, ca_path) -> None:
    fake_github.max_page_size = 1
    fake_github.foreign_next_link = True
    with pytest.raises(ConnectorError, match="pagination link to another host"):
        log_in(make_connector(orgs=[{"name": "acme"}]), ca_path)


# --- refresh and health -------------------------------------------------------------------------


def test_refresh_rereads_user_and_groups(make_connector, fake_github, jane, ca_path) -> None:
    conn = make_connector(orgs=[{"name": "acme"}])
    identity = log_in(conn, ca_path)
    assert identity.groups == ("acme", "acme:Platform Team", "acme:Ops")
    jane.teams = [("acme", "Security", "security")]
    jane.name = "Jane Q. Doe"
    refreshed = conn.refresh(GROUPS, identity)
    assert refreshed.groups == ("acme", "acme:Security")
    assert refreshed.username == "Jane Q. Doe"
    assert refreshed.connector_data == identity.connector_data
    jane.orgs = ["oss"]
    jane.teams = []
    with pytest.raises(ConnectorError, match="required organization"):
        conn.refresh(GROUPS, refreshed)


def test_refresh_fails_on_a_revoked_token(make_connector, fake_github, jane, ca_path) -> None:
    conn = make_connector()
    identity = log_in(conn, ca_path)
    assert conn.refresh(GROUPS, identity).user_id == "4242"
    fake_github.revoke(json.loads(identity.connector_data or b"")["accessToken"])
    with pytest.raises(ConnectorError, match="revoked"):
        conn.refresh(GROUPS, identity)


def test_refresh_without_a_stored_token_fails(make_connector) -> None:
    identity = Identity(user_id="1", username="x", connector_data=b"not json")
    with pytest.raises(ConnectorError, match="log in again"):
        make_connector().refresh(GROUPS, identity)


def test_check_reaches_the_api_and_reports_an_unreachable_host(make_connector, ghe_config):
    make_connector().check()  # the fake answers /api/v3/rate_limit
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    conn = GitHubConnector.open({**ghe_config, "hostName": closed}, connector_id="github")
    with pytest.raises(ConnectorError, match="unreachable"):
        conn.check()
