"""Judging one bearer token for the TokenReview webhook: who it is, or why it is refused.

The checks are those of kube-apiserver's OIDC authenticator (``--oidc-*`` flags): a signature by
one of our keys, ``iss`` exactly our issuer, ``exp``, ``nbf`` and ``iat`` (``dex_py.jose.tokens``),
``aud`` among ``kubernetes.tokenReview.audiences``; the username from the configured claim with
its prefix (``email`` requires ``email_verified`` to be true when present, as the API server
does), the groups from the ``groups`` claim (the teams our rule engine, ``dex_py.teams``, put
there at issuance) with their prefix. The audience rule of the webhook contract
(``status.audiences`` a non-empty subset of ``spec.audiences``) is applied through
``apiServerAudiences`` (``dex_py.config.kubernetes``).

Then what the flags cannot do: refuse a token that was revoked. One storage lookup
(``Storage.any_revoked``) covers the token's refresh chain (``grant_id``: revoked by the
revocation endpoint, by refresh token reuse, when the connector said the user is gone, or moved
away when the user lost a team or changed identity at a refresh, ``dex_py.oauth.refresh``, or
at the connector check between refreshes, ``dex_py.oauth.connector_check``), its
login session (``sid``: ended by logout) and, for an access token, its own ``jti``. A token whose
client no longer exists is refused too (static clients are looked up in memory).

Accepted: our ID tokens (what ``kubectl``'s exec plugin sends) and our JWT access tokens (RFC
9068) of an end user. Refused: logout tokens, client-credentials access tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dex_py.config.kubernetes import TokenReviewSettings
from dex_py.jose import tokens
from dex_py.services import Services
from dex_py.storage.base import grant_marker, session_marker

CONNECTOR_ID_EXTRA = "dex-py.io/connector-id"  # status.user.extra key: the connector's id

# Results, also the ``result`` label of the reviews metric.
AUTHENTICATED = "authenticated"
INVALID = "invalid"  # signature, issuer, times, or not a token of an end user
AUDIENCE = "audience"  # aud not accepted, or not for the API server's audiences
UNUSABLE = "unusable"  # no username, unverified email, malformed groups
REVOKED = "revoked"  # chain, session, jti, or client gone


@dataclass(frozen=True)
class Review:
    """The outcome: ``user`` and ``audiences`` when authenticated, else ``error``."""

    result: str
    error: str = ""
    user: dict[str, Any] = field(default_factory=dict)
    audiences: list[str] = field(default_factory=list)

    @property
    def authenticated(self) -> bool:
        return self.result == AUTHENTICATED


class _Refused(Exception):
    def __init__(self, result: str, error: str) -> None:
        super().__init__(error)
        self.result = result
        self.error = error


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class Reviewer:
    """Reviews tokens for one configuration (``review`` is called once per request)."""

    def __init__(self, svc: Services, settings: TokenReviewSettings) -> None:
        self.settings = settings
        self.accepted = frozenset(settings.audiences)
        self.username_prefix = settings.username_prefix_for(svc.issuer)

    def review(self, svc: Services, token: str, spec_audiences: Sequence[str]) -> Review:
        try:
            claims = self._verified(svc, token)
            audiences = self._audiences(claims, spec_audiences)
            user = self._user(claims)
            self._check_revocation(svc, claims)
        except _Refused as refused:
            return Review(refused.result, refused.error)
        return Review(AUTHENTICATED, user=user, audiences=audiences)

    @staticmethod
    def _verified(svc: Services, token: str) -> dict[str, Any]:
        try:
            claims = tokens.verify(
                svc.keys, token, issuer=svc.issuer, audience=None, clock=svc.clock
            )
        except tokens.InvalidTokenError as exc:
            raise _Refused(INVALID, f"invalid token: {exc}") from None
        if "events" in claims:
            raise _Refused(INVALID, "a logout token is not a credential")
        if claims.get("gty") == "client_credentials":
            raise _Refused(INVALID, "the token has no end user (client credentials)")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise _Refused(INVALID, "the token has no subject")
        return claims

    def _audiences(self, claims: dict[str, Any], spec_audiences: Sequence[str]) -> list[str]:
        """``status.audiences``: the token's accepted audiences, or, when the API server sent
        its own, those of them the token counts for (refused when there are none)."""
        accepted = [a for a in _strings(claims.get("aud")) if a in self.accepted]
        if not accepted:
            raise _Refused(AUDIENCE, "the token's audience is not accepted by this cluster")
        if not spec_audiences:
            return accepted
        matching = [
            api
            for api in dict.fromkeys(spec_audiences)
            if any(cid in accepted for cid in self.settings.clients_for(api))
        ]
        if not matching:
            raise _Refused(AUDIENCE, "the token is not valid for the requested audiences")
        return matching

    def _user(self, claims: dict[str, Any]) -> dict[str, Any]:
        claim = self.settings.username_claim
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            raise _Refused(UNUSABLE, f"the token has no {claim} claim")
        if claim == "email" and claims.get("email_verified", True) is not True:
            raise _Refused(UNUSABLE, "the token's email is not verified")
        groups = claims.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _Refused(UNUSABLE, "the token's groups claim is not a list of strings")
        subject: str = claims["sub"]
        try:
            _, connector_id = tokens.decode_sub(subject)
        except ValueError:
            raise _Refused(INVALID, "the token's subject is not one of ours") from None
        prefix = self.settings.groups_prefix
        return {
            "username": self.username_prefix + value,
            "uid": subject,
            "groups": [prefix + g for g in groups],
            "extra": {CONNECTOR_ID_EXTRA: [connector_id]},
        }

    @staticmethod
    def _check_revocation(svc: Services, claims: dict[str, Any]) -> None:
        clients = {*_strings(claims.get("aud")), *_strings(claims.get("azp"))}
        clients.update(_strings(claims.get("client_id")))
        for client_id in sorted(clients):
            if svc.clients.get(client_id) is None:
                raise _Refused(REVOKED, "the token's client no longer exists")
        keys: list[str] = []
        grant_id, sid, jti = claims.get("grant_id"), claims.get("sid"), claims.get("jti")
        if isinstance(grant_id, str) and grant_id:
            keys.append(grant_marker(grant_id))
        if isinstance(sid, str) and sid:
            keys.append(session_marker(sid))
        if isinstance(jti, str) and jti:
            keys.append(jti)
        if keys and svc.storage.any_revoked(keys):
            raise _Refused(REVOKED, "the token has been revoked")
