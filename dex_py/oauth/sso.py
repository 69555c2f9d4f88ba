"""Whether an authorization request may be answered from the browser's SSO session
(OIDC Core §3.1.2.1: ``prompt``, ``max_age``, ``id_token_hint``; §3.1.2.3 re-authentication).

A session is reused only when nothing asks for a fresh login: not ``prompt=login``, the
authentication is younger than ``max_age``, the ``id_token_hint`` names the same user, and the
session's connector is one this client may use (and the one requested by ``connector_id``).
A session whose identity was fetched without a connector scope the request asks for
(``groups``, ``offline_access``) is re-read from its connector with the wider scopes first; if
the connector cannot do that, the user logs in again. A token never silently lacks a requested
claim because the session's login did not ask for it.

``prompt=none`` never shows a page: without a reusable session it answers ``login_required``;
when the session does not cover the request's scopes for this client (``dex_py.oauth.consent``),
``consent_required``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from connectors.base import ConnectorError
from dex_py import scopes as sc
from dex_py import second_factor
from dex_py.errors import ConsentRequired, InvalidRequest, LoginRequired
from dex_py.jose import tokens
from dex_py.oauth import consent, issuance, sessions
from dex_py.oauth.authorize_context import AuthorizeContext
from dex_py.storage.base import NotFoundError, Session

log = logging.getLogger(__name__)


def check_id_token_hint(ctx: AuthorizeContext) -> None:
    """The hint must be an ID token we issued (it may have expired); remember its ``sub``."""
    hint = ctx.get("id_token_hint")
    if not hint:
        return
    svc = ctx.svc
    try:
        claims = tokens.verify(
            svc.keys, hint, issuer=svc.issuer, audience=None, clock=svc.clock, allow_expired=True
        )
    except tokens.InvalidTokenError:
        raise InvalidRequest("id_token_hint is not a valid ID token from this issuer") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or "jti" in claims:
        raise InvalidRequest("id_token_hint is not an ID token")
    ctx.notes["hint_sub"] = sub


def reusable_session(ctx: AuthorizeContext) -> Session | None:
    """The SSO session that may answer this request, or ``None`` if the user must log in.
    Raises ``LoginRequired``/``ConsentRequired`` for ``prompt=none``."""
    svc = ctx.svc
    client = ctx.client
    assert client is not None
    session = sessions.current(svc)
    if session is not None and not _usable(ctx, session):
        session = None
    if session is not None:
        session = _with_connector_scopes(ctx, session)
    if "none" in ctx.prompt:
        if session is None:
            raise LoginRequired("the user is not logged in")
        if not already_approved(ctx, session):
            raise ConsentRequired("the user has not approved this client for these scopes")
    return session


def already_approved(ctx: AuthorizeContext, session: Session) -> bool:
    """May the request be answered without the approval page?"""
    assert ctx.client is not None
    return not consent.needs_approval(
        ctx.svc, ctx.client, ctx.scopes, forced=ctx.force_approval, session=session
    )


def _with_connector_scopes(ctx: AuthorizeContext, session: Session) -> Session | None:
    """The session with an identity fetched for the request's connector scopes: as it is when
    it already was, else re-read from the connector (and stored); ``None`` when the connector
    cannot re-read it, so the user must log in again."""
    wanted = sc.connector_scopes(ctx.scopes)
    if set(wanted) <= set(session.connector_scopes):
        return session
    svc = ctx.svc
    entry = svc.connectors.get(session.connector_id)
    refresher = entry.refresher() if entry is not None else None
    if refresher is None:
        return None
    scopes = sc.connector_scopes((*wanted, *session.connector_scopes))
    before = issuance.identity_of(session.claims, session.connector_data)
    try:
        identity = refresher.refresh(sc.for_connector(scopes), before)
    except ConnectorError as exc:
        log.info("session identity not refreshed by %s: %s", session.connector_id, exc)
        return None
    if identity is before or identity.user_id != session.claims.user_id:
        return None  # the connector kept what it had (nothing to re-read with), or another user
    claims = issuance.claims_of(svc, session.connector_id, identity)
    claims = second_factor.keep_authentication(claims, session.claims)
    data = session.connector_data if identity.connector_data is None else identity.connector_data

    def widen(s: Session) -> Session:
        return replace(s, claims=claims, connector_data=data, connector_scopes=scopes)

    try:
        session = svc.storage.update_session(session.id, widen)
    except NotFoundError:
        return None
    return session if _usable(ctx, session) else None


def _usable(ctx: AuthorizeContext, session: Session) -> bool:
    svc = ctx.svc
    client = ctx.client
    assert client is not None
    if "login" in ctx.prompt:
        return False
    if ctx.max_age is not None and (
        session.auth_time + timedelta(seconds=ctx.max_age) < svc.clock.now()
    ):
        return False
    hint_sub = ctx.notes.get("hint_sub")
    if hint_sub and hint_sub != tokens.encode_sub(session.claims.user_id, session.connector_id):
        return False
    if ctx.connector_id and ctx.connector_id != session.connector_id:
        return False
    if client.allowed_connectors and session.connector_id not in client.allowed_connectors:
        return False
    if client.allowed_groups and not set(session.claims.groups) & set(client.allowed_groups):
        return False
    if not svc.second_factors.satisfied(
        client.id, session.claims, session.connector_id, ctx.get("acr_values")
    ):
        return False  # the session's login had no second factor, and this one needs it
    entry = svc.connectors.get(session.connector_id)
    return entry is not None and entry.available
