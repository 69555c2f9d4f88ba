"""Minting tokens: ID tokens (OIDC Core §2, §3.1.3.6, §3.3.2.11), JWT access tokens and refresh
tokens. Every grant ends here, so claims mean the same whichever grant issued them.

Claims follow Dex: ``sub`` is Dex's protobuf encoding of (user id, connector id), ``name`` is
the username, ``email``/``email_verified`` with scope ``email``, ``preferred_username`` with
``profile``, ``groups`` with ``groups``, ``federated_claims`` with ``federated:id``. Cross-client
scopes put the peer clients in ``aud`` and the requester in ``azp``.

Refresh tokens handed to clients are ``<id>.<secret>``; storage keeps only SHA-256 of the secret.
Access tokens and ID tokens of a login that has a refresh token carry a ``grant_id`` claim
derived from the chain's id (RFC 7009 §2.1: revoking the chain revokes them all; see
``dex_py.revocation``); it cannot be turned back into the id. In ID tokens it is a dex-py addition
(Dex has no such claim; relying parties ignore unknown claims, OIDC Core §5.1): the TokenReview
webhook (``dex_py.kube``) refuses an ID token whose chain was revoked. Ending a login session
(``revocation.revoke_session``, on logout) refuses the ID tokens carrying its ``sid`` there too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from connectors.base import Identity
from dex_py import scopes as sc
from dex_py.jose import tokens
from dex_py.services import Services
from dex_py.storage.base import (
    Claims,
    RefreshToken,
)


@dataclass(frozen=True)
class Grant:
    """Who is getting tokens, for which client, with which scopes."""

    client_id: str
    scopes: tuple[str, ...]
    claims: Claims
    connector_id: str
    nonce: str = ""
    auth_time: datetime | None = None
    connector_data: bytes | None = None
    session_id: str = ""
    grant_id: str = ""  # links access tokens to their refresh token chain


class _GrantSource(Protocol):
    @property
    def client_id(self) -> str: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def claims(self) -> Claims | None: ...
    @property
    def connector_id(self) -> str: ...
    @property
    def nonce(self) -> str: ...
    @property
    def auth_time(self) -> datetime | None: ...
    @property
    def connector_data(self) -> bytes | None: ...
    @property
    def session_id(self) -> str: ...


def grant_of(source: _GrantSource, **changes: Any) -> Grant:
    """The grant recorded by an auth request, code or refresh token (fields by the same names)."""
    assert source.claims is not None
    fields: dict[str, Any] = {
        "client_id": source.client_id,
        "scopes": source.scopes,
        "claims": source.claims,
        "connector_id": source.connector_id,
        "nonce": source.nonce,
        "auth_time": source.auth_time,
        "connector_data": source.connector_data,
        "session_id": source.session_id,
    }
    fields.update(changes)
    return Grant(**fields)


def claims_of(svc: Services, connector_id: str, identity: Identity) -> Claims:
    """What we store about the user a connector returned: its upstream groups mapped to teams
    by the one rule engine (``dex_py.teams``), so every grant sees the same teams."""
    return Claims(
        user_id=identity.user_id,
        username=identity.username,
        preferred_username=identity.preferred_username,
        email=identity.email,
        email_verified=identity.email_verified,
        groups=svc.teams.map(connector_id, identity.groups),
    )


def identity_of(claims: Claims, connector_data: bytes | None) -> Identity:
    """The stored user as a connector ``Identity`` (for ``refresh``)."""
    return Identity(
        user_id=claims.user_id,
        username=claims.username,
        preferred_username=claims.preferred_username,
        email=claims.email,
        email_verified=claims.email_verified,
        groups=claims.groups,
        connector_data=connector_data,
    )


def audience(grant: Grant) -> tuple[list[str] | str, str | None]:
    """``aud`` and ``azp`` for an ID token."""
    peers = sc.peers(grant.scopes)
    if not peers:
        return grant.client_id, None
    aud = list(dict.fromkeys(peers))
    return (aud[0] if len(aud) == 1 else aud), grant.client_id


def identity_claims(grant: Grant) -> dict[str, Any]:
    c = grant.claims
    out: dict[str, Any] = {"sub": tokens.encode_sub(c.user_id, grant.connector_id)}
    if sc.EMAIL in grant.scopes and c.email:
        out["email"] = c.email
        out["email_verified"] = c.email_verified
    if sc.GROUPS in grant.scopes:
        out["groups"] = list(c.groups)
    if sc.PROFILE in grant.scopes:
        out["name"] = c.username
        if c.preferred_username:
            out["preferred_username"] = c.preferred_username
    if sc.FEDERATED_ID in grant.scopes:
        out["federated_claims"] = {"connector_id": grant.connector_id, "user_id": c.user_id}
    return out


def id_token(
    svc: Services,
    grant: Grant,
    now: datetime,
    *,
    access_token: str = "",
    code: str = "",
    include_nonce: bool = True,
    include_auth_time: bool = False,
) -> str:
    aud, azp = audience(grant)
    claims: dict[str, Any] = {
        "iss": svc.issuer,
        **identity_claims(grant),
        "aud": aud,
        "exp": int((now + svc.config.expiry.id_tokens).timestamp()),
        "iat": int(now.timestamp()),
    }
    if azp:
        claims["azp"] = azp
    if grant.session_id:
        claims["sid"] = grant.session_id
    if grant.grant_id:
        claims["grant_id"] = grant.grant_id
    if include_nonce and grant.nonce:
        claims["nonce"] = grant.nonce
    alg = svc.keys.algorithm
    if access_token:
        claims["at_hash"] = tokens.half_hash(access_token, alg)
    if code:
        claims["c_hash"] = tokens.half_hash(code, alg)
    if grant.auth_time is not None and include_auth_time:
        claims["auth_time"] = int(grant.auth_time.timestamp())
    if grant.claims.amr:
        claims["amr"] = list(grant.claims.amr)  # RFC 8176
    if grant.claims.acr:
        claims["acr"] = grant.claims.acr
    return tokens.sign(svc.keys, claims)


@dataclass(frozen=True)
class AccessToken:
    value: str
    jti: str
    expiry: datetime


def access_token(svc: Services, grant: Grant, now: datetime, jti: str = "") -> AccessToken:
    """A JWT bearer token (as Dex issues), with a ``jti`` so it can be revoked (alone, or with
    its whole grant through ``grant_id``)."""
    expiry = now + svc.config.expiry.access_token_lifetime
    jti = jti or secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": svc.issuer,
        **identity_claims(grant),
        "aud": grant.client_id,
        "exp": int(expiry.timestamp()),
        "iat": int(now.timestamp()),
        "jti": jti,
        "client_id": grant.client_id,
        "scope": " ".join(grant.scopes),
    }
    if grant.grant_id:
        claims["grant_id"] = grant.grant_id
    return AccessToken(tokens.sign(svc.keys, claims, typ="at+jwt"), jti, expiry)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def refresh_expiry(svc: Services, created: datetime, last_used: datetime) -> datetime | None:
    rt = svc.config.expiry.refresh_tokens
    limits: list[datetime] = []
    if rt.absolute_lifetime:
        limits.append(created + rt.absolute_lifetime)
    if rt.valid_if_not_used_for:
        limits.append(last_used + rt.valid_if_not_used_for)
    return min(limits) if limits else None


def refresh_token_record(
    svc: Services, grant: Grant, now: datetime, token_id: str = ""
) -> tuple[RefreshToken, str]:
    """A new refresh token chain for ``grant`` (not stored yet) and the string the client
    gets."""
    token_id = token_id or secrets.token_urlsafe(16)
    secret = secrets.token_urlsafe(32)
    record = RefreshToken(
        id=token_id,
        token_hash=hash_secret(secret),
        client_id=grant.client_id,
        scopes=grant.scopes,
        claims=grant.claims,
        connector_id=grant.connector_id,
        created_at=now,
        last_used=now,
        nonce=grant.nonce,
        connector_data=grant.connector_data,
        auth_time=grant.auth_time,
        session_id=grant.session_id,
        expiry=refresh_expiry(svc, now, now),
    )
    return record, f"{token_id}.{secret}"


def new_refresh_token(svc: Services, grant: Grant, now: datetime, token_id: str = "") -> str:
    """Create and store a refresh token chain; return the string the client gets."""
    record, value = refresh_token_record(svc, grant, now, token_id)
    svc.storage.create_refresh_token(record)
    return value


def split_refresh_token(value: str) -> tuple[str, str] | None:
    token_id, sep, secret = value.partition(".")
    if not sep or not token_id or not secret or len(value) > 512:
        return None
    return token_id, secret


def token_response(
    svc: Services,
    grant: Grant,
    now: datetime,
    *,
    refresh_token: str = "",
    requested_scopes: tuple[str, ...] | None = None,
    include_nonce: bool = True,
    include_auth_time: bool = False,
    access: AccessToken | None = None,
) -> dict[str, Any]:
    """The JSON body of a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3)."""
    access = access or access_token(svc, grant, now)
    body: dict[str, Any] = {
        "access_token": access.value,
        "token_type": "bearer",
        "expires_in": int((access.expiry - now) / timedelta(seconds=1)),
    }
    if sc.OPENID in grant.scopes:
        body["id_token"] = id_token(
            svc,
            grant,
            now,
            access_token=access.value,
            include_nonce=include_nonce,
            include_auth_time=include_auth_time,
        )
    if refresh_token:
        body["refresh_token"] = refresh_token
    if requested_scopes is not None and requested_scopes != grant.scopes:
        body["scope"] = " ".join(grant.scopes)
    return body
