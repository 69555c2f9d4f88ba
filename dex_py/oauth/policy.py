"""Rules that hold for every grant, enforced in one place (DESIGN §6; the class of Dex advisory
GHSA-7qjx-gp9h-65qj, where a rule enforced in one grant was missing in another).

- the client may use this grant (its ``grantTypes``; empty = every enabled grant);
- tokens are only issued through connectors the client may use (``allowedConnectors``);
- a client restricted to ``allowedGroups`` only gets tokens for members;
- cross-client audiences need the peer to trust the client;
- ``client_credentials`` (the client acting for itself, RFC 6749 §4.4) is opt-in: only for
  confidential clients whose ``grantTypes`` list it explicitly (an empty list does not), and,
  as no end user is involved, the end-user rules (connectors, groups) do not apply to it;
- the admin scope ``dex-py:admin`` (the JSON admin API's bearer tokens) is granted only with
  ``client_credentials``, only to the clients listed in ``admin.clients``, and never together
  with a cross-client audience (the token must stay addressed to the client itself); asking
  for it otherwise is refused with ``invalid_scope`` (RFC 6749 §5.2), not silently dropped.

``check_grant_policy`` runs before a grant does anything; ``check_issue_policy`` runs on the
identity a grant is about to issue tokens for, whichever grant it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dex_py import scopes as sc
from dex_py.config.admin import ADMIN_SCOPE
from dex_py.errors import InvalidGrant, InvalidScope, UnauthorizedClient
from dex_py.services import Services

if TYPE_CHECKING:
    from dex_py.oauth.grant_base import TokenRequest
    from dex_py.oauth.issuance import Grant


# Grants a client must list in its own grantTypes (an empty list means "the usual ones").
OPT_IN_GRANTS = frozenset({"client_credentials"})
# Grants a public client may never use: it cannot keep a secret to prove who it is.
CONFIDENTIAL_GRANTS = frozenset({"password", "client_credentials"})
# Grants with no end user: tokens describe the client itself.
CLIENT_ONLY_GRANTS = frozenset({"client_credentials"})


def check_grant_policy(svc: Services, treq: TokenRequest) -> None:
    client = treq.client
    if client.grant_types and treq.grant_type not in client.grant_types:
        raise UnauthorizedClient("client may not use this grant type")
    if treq.grant_type in OPT_IN_GRANTS and treq.grant_type not in client.grant_types:
        raise UnauthorizedClient(f"client must opt in to {treq.grant_type} in its grantTypes")
    if treq.grant_type in CONFIDENTIAL_GRANTS and client.public:
        raise UnauthorizedClient(f"public clients may not use the {treq.grant_type} grant")
    check_admin_scope(svc, client.id, treq.grant_type, treq.form.get("scope", ""))


ADMIN_GRANT = "client_credentials"  # the one grant that may carry the admin scope


def check_admin_scope(svc: Services, client_id: str, grant_type: str, scope: str) -> None:
    """Refuse ``dex-py:admin`` unless ``client_id`` is an admin API client asking with
    ``client_credentials`` for a token addressed to itself. ``grant_type`` is ``""`` for
    requests that are no grant (the authorization and device endpoints)."""
    requested = scope.split(" ")
    if ADMIN_SCOPE not in requested:
        return
    if grant_type != ADMIN_GRANT:
        raise InvalidScope(f"{ADMIN_SCOPE} is only granted with the {ADMIN_GRANT} grant")
    if not svc.admin_policy.api_client(client_id):
        raise InvalidScope(f"{ADMIN_SCOPE} is not granted to this client (admin.clients)")
    if sc.peers(sc.parse(scope)):
        raise InvalidScope(f"{ADMIN_SCOPE} cannot be combined with a cross-client audience")


def check_connector_allowed(treq: TokenRequest, connector_id: str) -> None:
    """The ``allowedConnectors`` rule; grants that pick a connector from the request (token
    exchange) also call it before asking the connector anything."""
    allowed = treq.client.allowed_connectors
    if allowed and connector_id not in allowed:
        raise InvalidGrant("connector not allowed for this client")


def check_issue_policy(svc: Services, treq: TokenRequest, grant: Grant) -> None:
    client = treq.client
    if grant.client_id != client.id:
        raise InvalidGrant("grant was issued to another client")
    if not (treq.grant_type in CLIENT_ONLY_GRANTS and not grant.connector_id):
        # end-user rules: which connector vouched for the user, and their groups
        check_connector_allowed(treq, grant.connector_id)
        if client.allowed_groups and not set(grant.claims.groups) & set(client.allowed_groups):
            raise InvalidGrant("user is not in a group allowed to use this client")
    for peer_id in sc.peers(grant.scopes):
        if peer_id == client.id:
            continue
        peer = svc.clients.get(peer_id)
        if peer is None or client.id not in peer.trusted_peers:
            raise InvalidScope(f"client is not a trusted peer of {peer_id[:64]}")
