"""Rules (first match wins, default deny) and the rd redirect check (no open redirect)."""

from __future__ import annotations

import pytest

from dex_py.proxy.identity_headers import Identity
from dex_py.proxy.redirects import safe_redirect
from dex_py.proxy.rules import Decision, decide, find_rule
from tests.proxy.helpers import make_config

DEV = Identity(user="u1", email="dev@example.com", groups=("developers",))
ADMIN = Identity(user="u2", email="root@corp.example", groups=("admins", "developers"))
OUTSIDER = Identity(user="u3", email="eve@elsewhere.org", groups=("authors",))


def _decide(identity: Identity | None, host: str, path: str, method: str = "GET") -> Decision:
    rules = make_config().rules
    return decide(find_rule(rules, host, path, method), identity)


def test_first_match_wins_by_host_and_path() -> None:
    assert _decide(DEV, "app.example.com", "/x") is Decision.ALLOW
    assert _decide(DEV, "admin.example.com", "/x") is Decision.FORBIDDEN
    assert _decide(ADMIN, "admin.example.com:8443", "/x") is Decision.ALLOW
    assert _decide(OUTSIDER, "app.example.com", "/") is Decision.FORBIDDEN
    assert _decide(None, "app.example.com", "/") is Decision.UNAUTHENTICATED


def test_skip_auth_needs_its_method() -> None:
    assert _decide(None, "app.example.com", "/healthz") is Decision.SKIP
    assert _decide(None, "app.example.com", "/healthz", "POST") is Decision.UNAUTHENTICATED


def test_no_matching_rule_denies() -> None:
    rules = make_config(rules=[{"path": "/only", "allow": {"authenticated": True}}]).rules
    assert decide(find_rule(rules, "h", "/other", "GET"), DEV) is Decision.FORBIDDEN
    assert decide(find_rule(rules, "h", "/only/x", "GET"), OUTSIDER) is Decision.ALLOW


def test_emails_domains_and_wildcard_hosts() -> None:
    rules = make_config(
        rules=[
            {"host": "*.example.com", "allow": {"emails": ["EVE@elsewhere.org"]}},
            {"path": "/", "allow": {"emailDomains": ["example.com"]}},
        ]
    ).rules
    assert decide(find_rule(rules, "a.example.com", "/", "GET"), OUTSIDER) is Decision.ALLOW
    assert decide(find_rule(rules, "a.example.com", "/", "GET"), DEV) is Decision.FORBIDDEN
    assert decide(find_rule(rules, "other.org", "/", "GET"), DEV) is Decision.ALLOW
    assert decide(find_rule(rules, "other.org", "/", "GET"), ADMIN) is Decision.FORBIDDEN


ALLOWED = (".example.com", "app.other.org:8443")


@pytest.mark.parametrize(
    "rd",
    [
        "//evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "https://evil.com/",
        "https://proxy.test@evil.com/",
        "https://evil.com\\@proxy.test/",
        "https://example.com.evil.com/",
        "https://evilexample.com/",
        "/ok\r\nSet-Cookie: x=y",
        "/%0d%0a\r",
        "javascript:alert(1)",
        "http:evil.com",
        "https://app.other.org/",  # listed with a port only
        "https://app.other.org:9443/",
        " //evil.com",
        "http://[::1/",
    ],
)
def test_open_redirects_are_refused(rd: str) -> None:
    assert safe_redirect(rd, "proxy.test", ALLOWED) == "/"


@pytest.mark.parametrize(
    "rd",
    [
        "/dashboard?x=1",
        "http://proxy.test/back",
        "https://grafana.example.com/d/1",
        "https://example.com/",
        "https://app.other.org:8443/x",
    ],
)
def test_own_and_listed_hosts_are_kept(rd: str) -> None:
    assert safe_redirect(rd, "proxy.test", ALLOWED) == rd
