"""Scopes: parsing, the known set, and cross-client audiences (OIDC Core §5.4, Dex's extensions).

Known scopes: ``openid email profile groups offline_access federated:id`` and
``audience:server:client_id:<peer>``, which asks for an ID token whose ``aud`` is the peer client
(the peer must list the requesting client in its ``trustedPeers``). Unknown scopes are ignored,
as RFC 6749 §3.3 allows; they are not echoed back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.base import Scopes as ConnectorScopes

OPENID = "openid"
EMAIL = "email"
PROFILE = "profile"
GROUPS = "groups"
OFFLINE_ACCESS = "offline_access"
FEDERATED_ID = "federated:id"
CROSS_CLIENT_PREFIX = "audience:server:client_id:"

KNOWN = (OPENID, EMAIL, PROFILE, GROUPS, OFFLINE_ACCESS, FEDERATED_ID)

DESCRIPTIONS = {
    PROFILE: "View basic profile information",
    EMAIL: "View your email address",
    GROUPS: "View your groups",
    OFFLINE_ACCESS: "Have offline access",
    FEDERATED_ID: "View the account you logged in with",
}


def parse(scope: str) -> tuple[str, ...]:
    """Split a space-delimited scope string, keep known scopes once each, in order."""
    seen: list[str] = []
    for s in scope.split(" "):
        if not s or s in seen:
            continue
        if s in KNOWN or (s.startswith(CROSS_CLIENT_PREFIX) and len(s) > len(CROSS_CLIENT_PREFIX)):
            seen.append(s)
    return tuple(seen)


def peers(scopes: Iterable[str]) -> list[str]:
    """Client ids named by cross-client scopes."""
    return [s[len(CROSS_CLIENT_PREFIX) :] for s in scopes if s.startswith(CROSS_CLIENT_PREFIX)]


CONNECTOR_SCOPES = (GROUPS, OFFLINE_ACCESS)  # the scopes that change what a connector fetches


def connector_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The connector scopes among ``scopes``, in a fixed order."""
    wanted = set(scopes)
    return tuple(s for s in CONNECTOR_SCOPES if s in wanted)


def for_connector(scopes: Sequence[str]) -> ConnectorScopes:
    return ConnectorScopes(offline_access=OFFLINE_ACCESS in scopes, groups=GROUPS in scopes)


def describe(scopes: Iterable[str], client_names: dict[str, str] | None = None) -> list[str]:
    """Human descriptions for the approval page."""
    out: list[str] = []
    for s in scopes:
        if s in DESCRIPTIONS:
            out.append(DESCRIPTIONS[s])
        elif s.startswith(CROSS_CLIENT_PREFIX):
            peer = s[len(CROSS_CLIENT_PREFIX) :]
            name = (client_names or {}).get(peer) or peer
            out.append(f"Have access to {name}")
    return out
