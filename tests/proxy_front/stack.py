"""The parts around the auth proxy in its end-to-end tests: a real ``dex-py serve`` issuer with
the LDAP connector (``start_issuer``) that knows one static client per proxy (``ProxyClient``),
the proxy's config (``proxy_config``), and a login through a front server driven with
``requests`` (``log_in``), reusing ``tests/login_flow.py``'s form-filling loop.

Users and groups come from the seeded test directory (``tests/services/openldap_seed.ldif``):
alice (admins, developers), bob (developers), dave (ops).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from tests.connectors.ldap.conftest import LdapService
from tests.live import LiveServer, live_server
from tests.login_flow import follow_login
from tests.services import free_port

COOKIE_SECRET = "proxy-front-test-cookie-secret-0123456789abcdef"
# What a browser asks for when it opens a page: the proxy sends such a request to the login
# (302); an API client or XHR gets 401 instead.
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TEAM = "developers"


@dataclass(frozen=True)
class ProxyClient:
    """One proxy as the issuer knows it: the static client and where the browser reaches it."""

    client_id: str
    front_port: int  # where the browser goes (nginx, Caddy, or the proxy itself)
    proxy_port: int  # where ``dex-py proxy`` listens
    secret: str = ""

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def static_client(self) -> dict[str, Any]:
        return {
            "id": self.client_id,
            "secret": self.secret,
            "name": self.client_id,
            "redirectURIs": [self.front + "/oauth2/callback"],
            "postLogoutRedirectURIs": [self.front + "/", self.front + "/signed-out"],
            "backchannelLogoutURI": self.proxy + "/oauth2/backchannel-logout",
        }


def new_client(name: str, *, front_port: int | None = None) -> ProxyClient:
    """A client on fresh ports; without ``front_port`` the browser talks to the proxy itself
    (upstream mode)."""
    proxy_port = free_port()
    return ProxyClient(
        client_id=f"dex-py-proxy-{name}",
        front_port=front_port or proxy_port,
        proxy_port=proxy_port,
        secret=secrets.token_urlsafe(24),
    )


def ldap_connector(ldap: LdapService) -> dict[str, Any]:
    return {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": ldap.config("plain")}


def start_issuer(ldap: LdapService, clients: list[ProxyClient], base_dir: Path) -> LiveServer:
    """``dex-py serve`` with the LDAP connector alone (``/auth`` goes straight to its form),
    single sign-on sessions (so a second app logs in without a password and RP-initiated
    logout ends them), no approval screen, and a static client per proxy."""
    return live_server(
        {
            "connectors": [ldap_connector(ldap)],
            "enablePasswordDB": False,
            "staticPasswords": None,
            "oauth2": {"skipApprovalScreen": True},
            "session": {"enabled": True},
            "staticClients": [c.static_client() for c in clients],
        },
        workers=1,
        base_dir=base_dir,
    )


def proxy_config(
    issuer: str,
    client: ProxyClient,
    *,
    cookie_name: str,
    rules: list[dict[str, Any]] | None = None,
    upstreams: list[dict[str, Any]] | None = None,
    store: str = "memory",
    refresh_interval: str = "5m",
    **extra: Any,
) -> dict[str, Any]:
    """A proxy config: ``client`` at ``issuer``, a cookie over plain http (the tests have no
    TLS), members of ``developers`` allowed everywhere unless ``rules`` say otherwise."""
    config: dict[str, Any] = {
        "listen": f"127.0.0.1:{client.proxy_port}",
        "workers": 1,
        "issuer": issuer,
        "clientID": client.client_id,
        "clientSecret": client.secret,
        "redirectURL": client.front + "/oauth2/callback",
        "scopes": ["openid", "email", "profile", "groups", "offline_access"],
        "cookie": {"name": cookie_name, "secrets": [COOKIE_SECRET], "secure": False},
        "session": {"store": store, "refreshInterval": refresh_interval},
        "upstreams": upstreams or [],
        "rules": rules if rules is not None else [{"path": "/", "allow": {"teams": [TEAM]}}],
        "redirects": {"allowedDomains": [f"127.0.0.1:{client.front_port}"]},
        "signOut": {"issuerLogout": True, "postLogoutRedirectURL": client.front + "/signed-out"},
        "backchannelLogout": store != "cookie",
        "metrics": {"listen": ""},
        "logging": {"format": "json", "level": "info", "requests": True},
    }
    config.update(extra)
    return config


def log_in(
    front: str, username: str, password: str, *, path: str = "/hello", issuer: str = ""
) -> tuple[requests.Session, requests.Response]:
    """Open ``front + path`` as a browser would, log in at the issuer's LDAP form as
    ``username``, and return the session (holding the proxy's cookie) with the final answer."""
    browser = requests.Session()
    browser.headers.update(BROWSER_ACCEPT)
    first = browser.get(front + path, allow_redirects=False, timeout=10)
    assert first.status_code == 302, (first.status_code, first.text[:300])
    callback = follow_login(
        browser,
        first,
        back_to_client=lambda location: location.startswith(front + "/oauth2/callback"),
        credentials=(username, password),
    )
    final = browser.get(callback, allow_redirects=False, timeout=10)
    while final.is_redirect:
        final = browser.get(
            urljoin(final.url, final.headers["Location"]), allow_redirects=False, timeout=10
        )
    return browser, final
