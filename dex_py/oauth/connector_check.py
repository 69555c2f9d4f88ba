"""Checking refresh chains upstream between refreshes, so that revocation reaches tokens that
are only ever verified, never refreshed (the TokenReview webhook's, ``kubernetes.tokenReview``).

A refresh asks the connector who the user is now (``dex_py.oauth.refresh``); kubectl's plugin
refreshes only when its ID token expires, which can be hours. ``check_chains`` asks the same
question for every refresh chain of the given clients, at most once per ``window`` per chain
across all workers and replicas (the first ``Storage.count_attempt`` of a window claims it):

- the connector says the user is gone (``connectors.base.UserGone``): the chain is revoked with
  every token issued under it (``revocation.revoke_grant``), so the webhook refuses them;
- the user lost a team or another claim the tokens carry (``refresh.narrowed``): the same. A
  refresh would move the chain to a new id and hand the client its new tokens; here there is
  no client to hand them to, so the user logs in again;
- otherwise the chain keeps its claims; new connector data (an upstream provider's rotated
  refresh token) is stored if the chain has not rotated meanwhile, so the next refresh does
  not present a spent upstream token;
- the connector fails (``ConnectorError``, an outage): nothing changes; an outage must not end
  logins. Connectors that cannot refresh (no ``refresher``) are not asked.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from connectors.base import ConnectorError, UserGone
from dex_py import revocation, second_factor
from dex_py import scopes as sc
from dex_py.oauth import issuance
from dex_py.oauth.refresh import narrowed
from dex_py.ops.metrics import count_event
from dex_py.services import Services
from dex_py.storage.base import NotFoundError, RefreshToken

log = logging.getLogger(__name__)

CLAIM_PREFIX = "connector-check:"


@dataclass
class CheckResult:
    """What one pass did: chains asked upstream, revoked, and left alone after a failure."""

    checked: int = 0
    revoked: int = 0
    failed: int = 0


def check_chains(svc: Services, client_ids: Iterable[str], window: timedelta) -> CheckResult:
    """Check every refresh chain of ``client_ids`` not checked in this ``window`` elsewhere."""
    result = CheckResult()
    for client_id in dict.fromkeys(client_ids):
        for chain in svc.storage.list_refresh_tokens(client_id=client_id):
            _check_one(svc, chain, window, result)
    if result.revoked:
        log.info("connector check: %d chain(s) checked, %d revoked", result.checked, result.revoked)
    return result


def _check_one(svc: Services, chain: RefreshToken, window: timedelta, out: CheckResult) -> None:
    entry = svc.connectors.get(chain.connector_id)
    refresher = entry.refresher() if entry is not None and entry.available else None
    if refresher is None:
        return
    if svc.storage.count_attempt(CLAIM_PREFIX + chain.id, svc.clock.now(), window) != 1:
        return  # another worker or replica checks this chain in this window
    out.checked += 1
    identity = issuance.identity_of(chain.claims, chain.connector_data)
    try:
        current = refresher.refresh(sc.for_connector(chain.scopes), identity)
    except UserGone as exc:
        log.info("connector check: %s says the user is gone: %s", chain.connector_id, exc)
        _revoke(svc, chain, out)
        return
    except ConnectorError as exc:
        log.info("connector check: %s failed, chain kept: %s", chain.connector_id, exc)
        out.failed += 1
        return
    claims = issuance.claims_of(svc, chain.connector_id, current)
    claims = second_factor.keep_authentication(claims, chain.claims)
    if narrowed(chain.claims, claims):
        log.info("connector check: the user's claims narrowed; chain revoked")
        _revoke(svc, chain, out)
    elif current.connector_data != chain.connector_data:
        seen = chain.token_hash
        with contextlib.suppress(NotFoundError):
            svc.storage.update_refresh_token(
                chain.id,
                lambda t: (
                    replace(t, connector_data=current.connector_data) if t.token_hash == seen else t
                ),
            )


def _revoke(svc: Services, chain: RefreshToken, out: CheckResult) -> None:
    revocation.revoke_grant(svc, chain.id)
    count_event("dexpy_connector_check_revoked_total")
    out.revoked += 1
