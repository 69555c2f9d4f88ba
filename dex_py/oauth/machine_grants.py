"""Token-endpoint grants without a browser: client credentials (RFC 6749 §4.4) and token
exchange (RFC 8693).

**Client credentials.** The client asks for a token for itself. Only confidential clients that
list ``client_credentials`` in their own ``grantTypes`` may (``policy.OPT_IN_GRANTS``); the
server must enable it in ``oauth2.grantTypes`` too. The answer is an access token only: no ID
token, since no end user authenticated (OIDC Core §2 describes an end-user authentication), and
no refresh token (RFC 6749 §4.4.3: it SHOULD NOT be included). Its ``sub`` is the client id
(RFC 9068 §2.2: for grants without a resource owner, ``sub`` identifies the client), and
``client_id`` says the same. End-user scopes (``openid``, ``email``, ``profile``, ``groups``,
``offline_access``, ``federated:id``) are ignored rather than refused: RFC 6749 §3.3 lets the
server grant less than asked, and the response's ``scope`` then says what was granted. Cross-client
scopes ``audience:server:client_id:<peer>`` are kept (the peer must trust the client, checked
by the policy as for every grant) and put the peers in ``aud``, so a peer service can accept and
introspect the token. The admin scope ``dex-py:admin`` is kept for the clients the policy lets
have it (``policy.check_admin_scope``: ``admin.clients`` only, no cross-client audience).

**Token exchange.** As in Dex: the client presents ``subject_token`` with ``subject_token_type``
(``urn:ietf:params:oauth:token-type:id_token`` or ``...:access_token``) and ``connector_id``, the
upstream connector that verifies it (it must have the ``TokenIdentityConnector`` capability,
asked through ``ConnectorEntry.token_identity``). ``requested_token_type`` is ``...:access_token``
(default) or ``...:id_token``; ``scope`` defaults to ``openid``; ``audience``, if given, must be a
client id and acts like the cross-client scope for it. The identity's groups go through the teams
engine (``issuance.claims_of``), and ``allowedConnectors`` is checked before the connector is
asked (``policy.check_connector_allowed``) and again by ``check_issue_policy`` with every other
rule. The response is RFC 8693 §2.2.1: ``access_token`` (whatever was issued),
``issued_token_type``, ``token_type`` (``Bearer``, or ``N_A`` for an ID token) and
``expires_in``; no refresh token.
Delegation (``actor_token``) and ``resource`` are not supported and refused.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar

from authlib.oauth2.rfc6749.errors import OAuth2Error

from connectors.base import ConnectorError
from dex_py import scopes as sc
from dex_py import second_factor
from dex_py.config import TOKEN_EXCHANGE_GRANT
from dex_py.config.admin import ADMIN_SCOPE
from dex_py.errors import InvalidGrant, InvalidRequest
from dex_py.jose import tokens
from dex_py.oauth import issuance

# ``grants`` imports this module at its end to register these grants in ``GRANTS``: import them
# from there (importing this module first would be a circular import).
from dex_py.oauth.grant_base import BaseGrant
from dex_py.oauth.policy import check_connector_allowed, check_issue_policy
from dex_py.storage.base import Claims

log = logging.getLogger(__name__)

TOKEN_TYPE_PREFIX = "urn:ietf:params:oauth:token-type:"
ACCESS_TOKEN_TYPE = TOKEN_TYPE_PREFIX + "access_token"
ID_TOKEN_TYPE = TOKEN_TYPE_PREFIX + "id_token"
SUBJECT_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE)
REQUESTED_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE)


class InvalidTarget(OAuth2Error):
    """RFC 8693 §2.2.2: the requested audience is unknown or not allowed."""

    error = "invalid_target"
    status_code = 400


def _granted_scope_field(requested: str, granted: tuple[str, ...]) -> dict[str, str]:
    """RFC 6749 §5.1: ``scope`` is required in the response when it differs from the request."""
    asked = tuple(dict.fromkeys(s for s in requested.split(" ") if s))
    return {} if asked == granted else {"scope": " ".join(granted)}


def _expires_in(lifetime: timedelta) -> int:
    return int(lifetime / timedelta(seconds=1))


class ClientCredentialsGrant(BaseGrant):
    grant_type: ClassVar[str] = "client_credentials"

    def respond(self) -> dict[str, Any]:
        svc, client = self.svc, self.client
        requested = self.form.get("scope", "")
        scopes = tuple(s for s in sc.parse(requested) if s.startswith(sc.CROSS_CLIENT_PREFIX))
        if ADMIN_SCOPE in requested.split(" "):  # check_grant_policy allowed it for this client
            scopes = (*scopes, ADMIN_SCOPE)
        now = svc.clock.now()
        grant = issuance.Grant(
            client_id=client.id,
            scopes=scopes,
            claims=Claims(user_id=client.id, username=client.name or client.id),
            connector_id="",
        )
        check_issue_policy(svc, self.treq, grant)
        log.debug("client_credentials token issued to client %s", client.id)
        return {
            "access_token": self._access_token(grant, now),
            "token_type": "bearer",
            "expires_in": _expires_in(svc.config.expiry.access_token_lifetime),
            **_granted_scope_field(requested, scopes),
        }

    def _access_token(self, grant: issuance.Grant, now: datetime) -> str:
        svc = self.svc
        aud, azp = issuance.audience(grant)
        claims: dict[str, Any] = {
            "iss": svc.issuer,
            "sub": grant.client_id,
            "aud": aud,
            "exp": int((now + svc.config.expiry.access_token_lifetime).timestamp()),
            "iat": int(now.timestamp()),
            "jti": secrets.token_urlsafe(16),
            "client_id": grant.client_id,
            "scope": " ".join(grant.scopes),
            # marks a token with no end user: /userinfo refuses it
            "gty": "client_credentials",
        }
        if azp:
            claims["azp"] = azp
        return tokens.sign(svc.keys, claims, typ="at+jwt")


class TokenExchangeGrant(BaseGrant):
    grant_type: ClassVar[str] = TOKEN_EXCHANGE_GRANT

    def respond(self) -> dict[str, Any]:
        svc = self.svc
        subject_token = self.require("subject_token")
        subject_type = self.require("subject_token_type")
        connector_id = self.require("connector_id")
        if subject_type not in SUBJECT_TOKEN_TYPES:
            raise InvalidRequest("unsupported subject_token_type")
        requested_type = self.form.get("requested_token_type") or ACCESS_TOKEN_TYPE
        if requested_type not in REQUESTED_TOKEN_TYPES:
            raise InvalidRequest("unsupported requested_token_type")
        if self.form.get("actor_token") or self.form.get("actor_token_type"):
            raise InvalidRequest("delegation (actor_token) is not supported")
        if self.form.get("resource"):
            raise InvalidTarget("resource is not supported; use audience")
        requested_scope = self.form.get("scope") or sc.OPENID
        scopes = self._scopes(requested_scope)

        check_connector_allowed(self.treq, connector_id)
        entry = svc.connectors.get(connector_id)
        if entry is None or not entry.available:
            raise InvalidRequest("unknown connector_id")
        exchanger = entry.token_identity()
        if exchanger is None:
            raise InvalidRequest("this connector cannot verify subject tokens")
        try:
            identity = exchanger.token_identity(subject_type, subject_token)
        except ConnectorError as exc:
            log.info("token exchange: connector %s refused the subject token: %s", entry.id, exc)
            raise InvalidRequest("the subject token was not accepted") from None

        claims = second_factor.first_factor(
            issuance.claims_of(svc, connector_id, identity), password=False
        )
        if svc.second_factors.needed(self.client.id, claims, connector_id, ""):
            # A subject token says nothing we can check about a second factor, and there is no
            # page to ask for one: a user the mfa policy covers logs in through the browser.
            raise InvalidGrant("this user must log in with a second factor")
        now = svc.clock.now()
        grant = issuance.Grant(
            client_id=self.client.id,
            scopes=scopes,
            claims=claims,
            connector_id=connector_id,
        )
        check_issue_policy(svc, self.treq, grant)
        lifetime = svc.config.expiry.access_token_lifetime
        if requested_type == ID_TOKEN_TYPE:
            token, token_type = issuance.id_token(svc, grant, now), "N_A"
            lifetime = svc.config.expiry.id_tokens
        else:
            token, token_type = issuance.access_token(svc, grant, now).value, "Bearer"
        return {
            "access_token": token,
            "issued_token_type": requested_type,
            "token_type": token_type,
            "expires_in": _expires_in(lifetime),
            **_granted_scope_field(requested_scope, scopes),
        }

    def _scopes(self, requested: str) -> tuple[str, ...]:
        """Known scopes minus ``offline_access`` (no refresh token here), plus the cross-client
        scope for ``audience``."""
        scopes = [s for s in sc.parse(requested) if s != sc.OFFLINE_ACCESS]
        audience = self.form.get("audience", "")
        if audience and audience != self.client.id:
            if self.svc.clients.get(audience) is None:
                raise InvalidTarget("audience is not a known client")
            scope = sc.CROSS_CLIENT_PREFIX + audience
            if scope not in scopes:
                scopes.append(scope)
        return tuple(scopes)
