"""Whether an authorization request may be answered from the browser's SSO session
(OIDC Core §3.1.2.1: ``prompt``, ``max_age``, ``id_token_hint``; §3.1.2.3 re-authentication).

A session is reused only when nothing asks for a fresh login: not ``prompt=login``, the
authentication is younger than ``max_age``, the ``id_token_hint`` names the same user, and the
session's connector is one this client may use (and the one requested by ``connector_id``).
``prompt=none`` never shows a page: without a reusable session it answers ``login_required``;
when the session does not cover the request's scopes for this client (``dex_py.oauth.consent``),
``consent_required``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from dex_py import tokens
from dex_py.errors import ConsentRequired, InvalidRequest, LoginRequired
from dex_py.oauth import consent, sessions
from dex_py.storage.base import Session

if TYPE_CHECKING:
    from dex_py.oauth.authorize import AuthorizeContext


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
    entry = svc.connectors.get(session.connector_id)
    return entry is not None and entry.available
