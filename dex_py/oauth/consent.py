"""When the user must see the approval page (OIDC Core §3.1.2.4 and §11, RFC 6749 §10.2,
RFC 8252 §8.6).

Approval is remembered per session, client and scope: a request is answered without the page
only when every scope it asks for was approved for that client in this session. So a client
approved for ``openid email`` asks again for ``groups``, and ``offline_access`` (a refresh token)
is never granted on the strength of an approval that did not include it (§11).

The page is always shown when the request forces it (``prompt=consent``, or
``approval_prompt=force`` as Dex and oauth2-proxy send it). Otherwise the operator may skip it:
``skipApproval: true`` on a static client (dex-py addition) skips it for that client;
``oauth2.skipApprovalScreen: true`` skips it for confidential clients only. A public client's
identity cannot be verified (any local program can use its id on a loopback port), so it sees
the page on every request, even after approving it earlier in the session, unless it has
``skipApproval: true`` itself (RFC 8252 §8.6, RFC 6749 §10.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from dex_py.services import Services
from dex_py.storage.base import Approval, Client, Session


def skips_approval(svc: Services, client: Client) -> bool:
    """Has the operator turned the approval page off for this client?"""
    return client.skip_approval or (svc.config.oauth2.skip_approval_screen and not client.public)


def approved_scopes(session: Session, client_id: str) -> frozenset[str]:
    """What the user approved for ``client_id`` in this session."""
    return frozenset(s for a in session.approvals if a.client_id == client_id for s in a.scopes)


def needs_approval(
    svc: Services,
    client: Client,
    scopes: Sequence[str],
    *,
    forced: bool,
    session: Session | None,
) -> bool:
    """Must this request show the approval page?"""
    if forced:
        return True
    if skips_approval(svc, client):
        return False
    if client.public:
        return True  # an earlier approval says nothing about who is asking now
    return session is None or not set(scopes) <= approved_scopes(session, client.id)


def with_approval(
    approvals: Sequence[Approval], client_id: str, scopes: Sequence[str]
) -> tuple[Approval, ...]:
    """``approvals`` plus ``scopes`` approved for ``client_id`` (merged with earlier ones)."""
    before = next((a.scopes for a in approvals if a.client_id == client_id), ())
    merged = (*before, *(s for s in scopes if s not in before))
    others = tuple(a for a in approvals if a.client_id != client_id)
    return (*others, Approval(client_id, merged))
