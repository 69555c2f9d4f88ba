"""End to end: one ``teams`` section maps an LDAP group and a GitHub team to the same team.

A live ``dex-py serve`` has two connectors: ``ldap`` against a real OpenLDAP (this module starts
its own directory with the helpers of ``tests/connectors/ldap/conftest.py``, groups named by DN)
and ``github`` against the fake GitHub Enterprise Server (``loadAllGroups``, team slugs). The
rules send ``cn=admins,ou=Groups,dc=example,dc=org`` (LDAP) and ``acme:platform`` (GitHub) to the
team ``platform`` and drop what they do not name. A browser, driven with ``requests``, logs in once
through each connector; authlib's client redeems the codes and refreshes, and the independent
verifier of ``tests/live.py`` checks every ID token. A client with ``allowedGroups: [platform]``
lets both users in and refuses users in neither group with ``access_denied``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.connectors.github.fake_github import FakeGitHub, FakeUser
from tests.connectors.ldap.conftest import LdapService, pick_ports, start_ldap, stop_ldap
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    verify_id_token,
    verify_token_response,
)
from tests.login_flow import example_client, follow_login
from tests.tls import make_test_ca

pytestmark = [pytest.mark.live, pytest.mark.ldap, pytest.mark.slow]

# Same scheme as the LDAP tests (base + xdist worker offset, stepping past busy ports), on bases
# of its own: 50 above theirs, so it never meets their main (+0) or spare (+100) directories.
TEAMS_LDAP_PORT_BASE = 13940
TEAMS_LDAPS_PORT_BASE = 16410

SCOPES = "openid email profile groups offline_access"
ADMINS_DN = "cn=admins,ou=Groups,dc=example,dc=org"
DEVELOPERS_DN = "cn=developers,ou=Groups,dc=example,dc=org"
ONCALL_DN = "cn=on-call,ou=Groups,dc=example,dc=org"  # created by the refresh test
ALICE_DN = "uid=alice,ou=People,dc=example,dc=org"
PLATFORM_CLIENT_ID = "platform-app"
PLATFORM_CLIENT_SECRET = "cGxhdGZvcm0tYXBwLXNlY3JldA"

TEAMS: dict[str, Any] = {
    "unmatched": "drop",
    "rules": [
        {"glob": "other*", "connectors": ["github"], "drop": True},
        {"exact": DEVELOPERS_DN, "drop": True},
        {"exact": ADMINS_DN, "connectors": ["ldap"], "team": "platform"},
        {"exact": "acme:platform", "connectors": ["github"], "team": "platform", "continue": True},
        {"exact": ONCALL_DN, "connectors": ["ldap"], "team": "on-call"},
        {"exact": "acme:on-call", "connectors": ["github"], "team": "on-call"},
        {"glob": "acme:*", "connectors": ["github"], "team": "acme-members"},
    ],
}


# --- upstreams and the server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ldap_dir() -> Iterator[LdapService]:
    """A freshly seeded OpenLDAP for this module (per xdist worker)."""
    service = start_ldap(*pick_ports(TEAMS_LDAP_PORT_BASE, TEAMS_LDAPS_PORT_BASE))
    yield service
    stop_ldap(service.port)


@pytest.fixture(scope="module")
def _github_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(make_test_ca(tmp_path_factory.mktemp("teams-github-ca")))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def github(_github_server: FakeGitHub) -> FakeGitHub:
    """The fake GitHub with two users: ``octo`` (acme/platform, other/x) and ``webdev``
    (acme/web only)."""
    fake = _github_server
    fake.reset()
    fake.add_user(
        FakeUser(
            id=9001,
            login="octo",
            name="Octo Cat",
            email="octo@users.example",
            orgs=["acme", "other"],
            teams=[("acme", "Platform", "platform"), ("other", "X", "x")],
        )
    )
    fake.add_user(
        FakeUser(
            id=9002,
            login="webdev",
            name="Web Dev",
            email="webdev@users.example",
            orgs=["acme"],
            teams=[("acme", "Web", "web")],
        )
    )
    return fake


def server_config(ldap: LdapService, fake: FakeGitHub) -> dict[str, Any]:
    """Config overrides: the two connectors, the teams rules, and a platform-only client."""
    ldap_config = ldap.config("starttls")
    ldap_config["groupSearch"]["nameAttr"] = "DN"  # groups as DNs, as docs/teams.md shows
    return {
        "enablePasswordDB": False,
        "connectors": [
            {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": ldap_config},
            {
                "type": "github",
                "id": "github",
                "name": "GitHub Enterprise",
                "config": fake.connector_config(loadAllGroups=True, teamNameField="slug"),
            },
        ],
        "staticClients": [
            {
                "id": EXAMPLE_CLIENT_ID,
                "secret": EXAMPLE_CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
            },
            {
                "id": PLATFORM_CLIENT_ID,
                "secret": PLATFORM_CLIENT_SECRET,
                "name": "Platform Console",
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
                "allowedGroups": ["platform"],
            },
        ],
        "teams": TEAMS,
    }


@pytest.fixture
def server(make_live_server, ldap_dir: LdapService, github: FakeGitHub) -> LiveServer:
    return make_live_server(server_config(ldap_dir, github))


# --- driving a login -----------------------------------------------------------------------------


class Client:
    """An authlib OAuth 2.0 client of the live server."""

    def __init__(self, server: LiveServer, client_id: str, secret: str) -> None:
        self.server = server
        self.client_id = client_id
        self.meta = requests.get(server.url("/.well-known/openid-configuration"), timeout=10).json()
        self.oauth = example_client(client_id=client_id, client_secret=secret)

    def login(
        self, connector_id: str, fake: FakeGitHub, username: str = "", password: str = ""
    ) -> tuple[dict[str, list[str]], str, str]:
        """Run the browser part of the code flow through ``connector_id``; return the query of
        the redirect back to this client, the state and the nonce sent."""
        nonce = secrets.token_urlsafe(12)
        url, state = self.oauth.create_authorization_url(
            self.meta["authorization_endpoint"],
            scope=SCOPES,
            nonce=nonce,
            connector_id=connector_id,
        )
        query = parse_qs(urlsplit(drive_browser(self.server, fake, url, username, password)).query)
        assert query["state"] == [state], query
        return query, state, nonce

    def redeem(self, query: dict[str, list[str]], nonce: str) -> tuple[dict[str, Any], dict]:
        """Redeem the code; return the token response and the verified ID token claims."""
        assert "code" in query, query
        token = self.oauth.fetch_token(self.meta["token_endpoint"], code=query["code"][0])
        claims = verify_token_response(
            self.server.issuer, token, audience=self.client_id, nonce=nonce
        )
        return dict(token), claims

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Refresh; return the verified claims of the new ID token."""
        token = self.oauth.refresh_token(self.meta["token_endpoint"], refresh_token=refresh_token)
        return verify_id_token(self.server.issuer, token["id_token"], audience=self.client_id)


def drive_browser(
    server: LiveServer, fake: FakeGitHub, url: str, username: str, password: str
) -> str:
    """Follow redirects (the fake GitHub is HTTPS with the test CA), fill the password form and
    approve; return the redirect to the client without following it."""
    session = requests.Session()
    return follow_login(
        session,
        session.get(url, allow_redirects=False, timeout=10),
        credentials=(username, password),
        verify=str(fake.ca.ca_pem),
        log_tail=server.log_tail,
        steps=12,
    )


def assert_refused(query: dict[str, list[str]]) -> None:
    assert query.get("error") == ["access_denied"], query
    assert "code" not in query, query


# --- tests ---------------------------------------------------------------------------------------


def test_ldap_group_and_github_team_become_one_team_at_login_and_refresh(
    server: LiveServer, ldap_dir: LdapService, github: FakeGitHub
) -> None:
    client = Client(server, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET)

    # LDAP: alice is in admins (-> platform) and developers (dropped by a rule).
    query, _, nonce = client.login("ldap", github, "alice", "alice-secret")
    ldap_token, ldap_claims = client.redeem(query, nonce)
    assert ldap_claims["preferred_username"] == "alice"
    assert ldap_claims["groups"] == ["platform"]

    # GitHub: octo's groups are acme, other, acme:platform, other:x. acme:platform gives
    # platform and (rule continues) acme-members; other* is dropped; bare acme is unmatched.
    github.next_login = "octo"
    query, _, nonce = client.login("github", github)
    gh_token, gh_claims = client.redeem(query, nonce)
    assert gh_claims["preferred_username"] == "octo"
    assert gh_claims["groups"] == ["platform", "acme-members"]
    assert gh_claims["sub"] != ldap_claims["sub"]

    # Refresh goes back to each upstream, and its new group is mapped by the same rules.
    admin = ldap_dir.admin()
    try:
        assert admin.add(ONCALL_DN, ["groupOfNames"], {"cn": "on-call", "member": [ALICE_DN]})
        refreshed = client.refresh(ldap_token["refresh_token"])
    finally:
        admin.delete(ONCALL_DN)
        admin.unbind()
    assert refreshed["sub"] == ldap_claims["sub"]
    assert sorted(refreshed["groups"]) == ["on-call", "platform"]

    github.users["octo"].teams.append(("acme", "On Call", "on-call"))
    refreshed = client.refresh(gh_token["refresh_token"])
    assert refreshed["sub"] == gh_claims["sub"]
    assert refreshed["groups"] == ["platform", "acme-members", "on-call"]


def test_allowed_groups_admits_the_mapped_team_from_either_connector(
    server: LiveServer, github: FakeGitHub
) -> None:
    client = Client(server, PLATFORM_CLIENT_ID, PLATFORM_CLIENT_SECRET)

    query, _, nonce = client.login("ldap", github, "alice", "alice-secret")
    _, claims = client.redeem(query, nonce)
    assert claims["groups"] == ["platform"]

    github.next_login = "octo"
    query, _, nonce = client.login("github", github)
    _, claims = client.redeem(query, nonce)
    assert "platform" in claims["groups"]

    # bob is only in developers, which a rule drops; webdev's acme:web maps to acme-members.
    query, _, _ = client.login("ldap", github, "bob", "bob-secret")
    assert_refused(query)
    github.next_login = "webdev"
    query, _, _ = client.login("github", github)
    assert_refused(query)

    # The same users are welcome at a client without allowedGroups: the refusal is the policy.
    open_client = Client(server, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET)
    query, _, nonce = open_client.login("github", github)
    _, claims = open_client.redeem(query, nonce)
    assert claims["groups"] == ["acme-members"]
    query, _, nonce = open_client.login("ldap", github, "bob", "bob-secret")
    _, claims = open_client.redeem(query, nonce)
    assert claims.get("groups", []) == []  # Dex omits an empty groups claim
