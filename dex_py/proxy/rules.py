"""Who may open what: the auth proxy's ``rules``, first match wins, no match denies.

A rule matches a request by host (exact, or ``.example.com`` / ``*.example.com`` for the
domain and its subdomains; empty = any), path prefix, methods and an optional path regex. A
matching ``skipAuth`` rule lets anyone through (health checks); otherwise its ``allow`` says
which logged-in users pass: members of any listed team or group (both are values of the
``groups`` claim: dex-py puts team names there), listed emails, email domains, or everyone
logged in (``authenticated``). Anything else is denied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from dex_py.proxy.identity_headers import Identity


@dataclass(frozen=True)
class Allow:
    teams: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()  # lower-case
    email_domains: frozenset[str] = frozenset()  # lower-case, without "@"
    authenticated: bool = False

    def is_empty(self) -> bool:
        return not (
            self.teams or self.groups or self.emails or self.email_domains or self.authenticated
        )

    def admits(self, identity: Identity) -> bool:
        if self.authenticated:
            return True
        wanted = self.teams | self.groups
        if wanted and not wanted.isdisjoint(identity.groups):
            return True
        email = (identity.email or "").lower()
        if not email:
            return False
        if email in self.emails:
            return True
        return email.rpartition("@")[2] in self.email_domains


@dataclass(frozen=True)
class Rule:
    name: str  # "rules[2]" in logs and metrics
    host: str = ""  # "" any; "a.example.com"; ".example.com" or "*.example.com"
    path: str = "/"
    methods: frozenset[str] = frozenset()  # upper-case; empty = any
    path_regex: re.Pattern[str] | None = None
    skip_auth: bool = False
    allow: Allow = Allow()

    def matches(self, host: str, path: str, method: str) -> bool:
        if self.host and not host_matches(self.host, host):
            return False
        if not path.startswith(self.path):
            return False
        if self.methods and method not in self.methods:
            return False
        return self.path_regex is None or self.path_regex.search(path) is not None


def host_matches(pattern: str, host: str) -> bool:
    """``host`` (port removed, case-folded) against a rule's host pattern."""
    host = strip_port(host).lower()
    if pattern.startswith("*."):
        pattern = pattern[1:]
    if pattern.startswith("."):
        return host == pattern[1:] or host.endswith(pattern)
    return host == pattern


def strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Decision(Enum):
    SKIP = "skip"  # skipAuth: through without a login
    ALLOW = "allow"
    UNAUTHENTICATED = "unauthenticated"  # 401 (or a redirect to log in)
    FORBIDDEN = "forbidden"  # 403


def find_rule(rules: tuple[Rule, ...], host: str, path: str, method: str) -> Rule | None:
    """The first rule matching the request, or None (default deny)."""
    for rule in rules:
        if rule.matches(host, path, method):
            return rule
    return None


def decide(rule: Rule | None, identity: Identity | None) -> Decision:
    if rule is not None and rule.skip_auth:
        return Decision.SKIP
    if identity is None:
        return Decision.UNAUTHENTICATED
    if rule is not None and rule.allow.admits(identity):
        return Decision.ALLOW
    return Decision.FORBIDDEN
