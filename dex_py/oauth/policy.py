"""Rules that hold for every grant, enforced in one place (DESIGN §6; the class of Dex advisory
GHSA-7qjx-gp9h-65qj, where a rule enforced in one grant was missing in another).

- the client may use this grant (its ``grantTypes``; empty = every enabled grant);
- tokens are only issued through connectors the client may use (``allowedConnectors``);
- a client restricted to ``allowedGroups`` only gets tokens for members;
- cross-client audiences need the peer to trust the client.

``check_grant_policy`` runs before a grant does anything; ``check_issue_policy`` runs on the
identity a grant is about to issue tokens for, whichever grant it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dex_py import scopes as sc
from dex_py.errors import InvalidGrant, InvalidScope, UnauthorizedClient
from dex_py.services import Services

if TYPE_CHECKING:
    from dex_py.oauth.grants import TokenRequest
    from dex_py.oauth.issuance import Grant


def check_grant_policy(svc: Services, treq: TokenRequest) -> None:
    client = treq.client
    if client.grant_types and treq.grant_type not in client.grant_types:
        raise UnauthorizedClient("client may not use this grant type")
    if treq.grant_type == "password" and client.public:
        raise UnauthorizedClient("public clients may not use the password grant")


def check_issue_policy(svc: Services, treq: TokenRequest, grant: Grant) -> None:
    client = treq.client
    if grant.client_id != client.id:
        raise InvalidGrant("grant was issued to another client")
    if client.allowed_connectors and grant.connector_id not in client.allowed_connectors:
        raise InvalidGrant("connector not allowed for this client")
    if client.allowed_groups and not set(grant.claims.groups) & set(client.allowed_groups):
        raise InvalidGrant("user is not in a group allowed to use this client")
    for peer_id in sc.peers(grant.scopes):
        if peer_id == client.id:
            continue
        peer = svc.clients.get(peer_id)
        if peer is None or client.id not in peer.trusted_peers:
            raise InvalidScope(f"client is not a trusted peer of {peer_id[:64]}")
