"""Ending grants and login sessions: what a revoked refresh token chain or a finished SSO
session leaves in storage so the tokens issued under it are refused (RFC 7009 §2.1).

Access and ID tokens issued under a refresh token chain carry a ``grant_id`` derived from the
chain's id (``grant_id_of``; it cannot be turned back into the id). Revoking the chain
(``revoke_grant``) deletes it and records ``grant_marker(grant_id)`` among the revoked access
tokens; ending a session (``revoke_session``) records ``session_marker(sid)``. Introspection and
the TokenReview webhook look those markers up. The token endpoint (``dex_py.oauth``) and the
admin operations (``dex_py.management``) both revoke through here.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timedelta

from dex_py.services import Services
from dex_py.storage.base import NotFoundError, Storage, grant_marker, session_marker

# Kept past the last access token's expiry by this much: a refresh that rotated the chain just
# before it was deleted signs its token a moment later, maybe on a replica whose clock is ahead.
GRANT_REVOCATION_MARGIN = timedelta(minutes=5)


def grant_id_of(refresh_token_id: str) -> str:
    """The ``grant_id`` of the access tokens issued under a refresh token chain."""
    return hashlib.sha256(b"dex-py grant\0" + refresh_token_id.encode()).hexdigest()[:32]


def revoke_grant(svc: Services, refresh_token_id: str) -> None:
    """End a refresh token chain and every access token issued under it (RFC 7009 §2.1).

    The chain goes first: if recording the revocation then fails, what is left is the old
    behaviour (access tokens live out their lifetime), never a live chain whose new access
    tokens are all refused."""
    with contextlib.suppress(NotFoundError):
        svc.storage.delete_refresh_token(refresh_token_id)
    lifetime = svc.config.expiry.access_token_lifetime + GRANT_REVOCATION_MARGIN
    record_grant_revoked(svc.storage, refresh_token_id, svc.clock.now() + lifetime)


def record_grant_revoked(storage: Storage, refresh_token_id: str, until: datetime) -> None:
    """Record that the access tokens issued under a refresh token chain are revoked, until
    ``until`` (past the last one's expiry): what ``revoke_grant`` leaves besides the deletion,
    for callers without ``Services`` (Dex's gRPC API)."""
    storage.revoke_access_token(grant_marker(grant_id_of(refresh_token_id)), until)


def revoke_session(svc: Services, session_id: str) -> None:
    """Record that a login session ended (logout), so tokens carrying its ``sid`` are refused
    where revocation is checked (the TokenReview webhook), until they would have expired."""
    lifetime = svc.config.expiry.token_lifetime + GRANT_REVOCATION_MARGIN
    svc.storage.revoke_access_token(session_marker(session_id), svc.clock.now() + lifetime)
