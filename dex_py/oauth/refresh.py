"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

A login has one chain, handed out as ``<id>.<secret>``; storage keeps SHA-256 digests only
(``storage.base.RefreshToken``). Every check runs inside the one update that rotates the
chain, and the clock is read there too, so concurrent requests are ordered and each judges
reuse against what the one before it wrote: under the row lock, or (PostgreSQL) without it,
the rotation being written only if the chain is still as read, else judged again on what the
other request wrote (``storage.sql_transactions._update_optimistic``). The presented secret
is:

- the **current** one: the chain rotates. The new secret is stored as a digest, and also
  sealed (AES-GCM) under a key derived (HKDF-SHA256) from the presented secret, which only its
  holder knows.
- the **previous** one, less than ``reuseInterval`` after that rotation (a retry whose answer
  was lost, or concurrent refreshes by one client): the sealed successor is opened with the
  presented secret and the *same* current secret is returned; nothing is written. With
  ``reuseInterval: 0s`` the previous secret is never accepted.
- a **rotated-out** one (the previous secret after the interval, or an older one among
  ``RETIRED_KEPT``): reuse. The chain is revoked with every access token issued under it.
- anything else: ``invalid_grant``, and the chain stays. A secret that never belonged to the
  chain proves nothing, and knowing a token's id must not let anyone end the login.

The connector is asked who the user is after the rotation, never while the row is locked; if
it refuses, the rotation is undone, so an upstream outage does not cost the user their login.
If it says the user is gone (``connectors.base.UserGone``), the chain is revoked with every
token issued under it. If the user lost something the earlier tokens claim (a team, or a
changed email or name), the chain moves to a new id: the earlier tokens' ``grant_id`` is
revoked (``/userinfo``, introspection and the TokenReview webhook refuse them) and the client
gets its new refresh token under the new id, with tokens carrying the new ``grant_id``. A
retry of that request with the previous secret then finds no chain and the user logs in again.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import logging
import os
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connectors.base import ConnectorError, Identity, UserGone
from dex_py import revocation, second_factor
from dex_py import scopes as sc
from dex_py.errors import InvalidGrant, InvalidScope
from dex_py.oauth import issuance
from dex_py.oauth.grant_base import BaseGrant
from dex_py.oauth.policy import check_issue_policy
from dex_py.ops.audit import FAILURE, audit
from dex_py.ops.metrics import count_event
from dex_py.storage.base import Claims, NotFoundError, RefreshToken

log = logging.getLogger(__name__)

RETIRED_KEPT = 16  # rotated-out secrets recognised as reuse (older ones are merely invalid)
_SEAL_INFO = b"dex-py refresh successor v1"
_NONCE = 12


def _sealer(token_id: str, secret: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=token_id.encode(), info=_SEAL_INFO
    ).derive(secret.encode())
    return AESGCM(key)


def seal_successor(token_id: str, previous: str, successor: str) -> str:
    """``successor`` encrypted so that only a holder of ``previous`` can read it."""
    nonce = os.urandom(_NONCE)
    sealed = _sealer(token_id, previous).encrypt(nonce, successor.encode(), token_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_successor(token_id: str, previous: str, sealed: str) -> str:
    """The successor sealed under ``previous``, or "" if ``sealed`` was not (a chain rotated
    by a release that did not seal, or sealed under another secret)."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        if len(raw) <= _NONCE:
            return ""
        plain = _sealer(token_id, previous).decrypt(raw[:_NONCE], raw[_NONCE:], token_id.encode())
        return plain.decode()
    except (ValueError, InvalidTag):
        return ""


class _Reuse(Exception):
    pass


class _Expired(Exception):
    pass


class _UserGone(Exception):
    pass


def narrowed(before: Claims, after: Claims) -> bool:
    """Whether ``after`` takes back something tokens issued with ``before`` claim: a team, or
    any other identity claim changed. Gaining teams narrows nothing."""
    lost_team = not set(before.groups) <= set(after.groups)
    return lost_team or replace(after, groups=before.groups) != before


def _matches(presented: str, digest: str) -> bool:
    return bool(digest) and hmac.compare_digest(presented, digest)


class RefreshTokenGrant(BaseGrant):
    """One read-modify-write of the chain per refresh (see the module docstring)."""

    grant_type = "refresh_token"

    def respond(self) -> dict[str, Any]:
        svc = self.svc
        parts = issuance.split_refresh_token(self.require("refresh_token"))
        if parts is None:
            raise InvalidGrant("invalid refresh token")
        token_id, secret = parts
        requested = self.form.get("scope")
        outcome: dict[str, Any] = {}

        try:
            token = svc.storage.update_refresh_token(
                token_id, lambda old: self._rotate(old, secret, requested, outcome)
            )
        except NotFoundError:
            raise InvalidGrant("invalid refresh token") from None
        except _Reuse:
            revocation.revoke_grant(svc, token_id)
            raise InvalidGrant("refresh token reuse detected; the grant is revoked") from None
        except _Expired:
            with contextlib.suppress(NotFoundError):
                svc.storage.delete_refresh_token(token_id)
            raise InvalidGrant("refresh token expired") from None

        now: datetime = outcome["now"]
        before: RefreshToken | None = outcome.get("before")
        try:
            identity = self._current_identity(token)
        except _UserGone:
            revocation.revoke_grant(svc, token_id)
            raise InvalidGrant("the user may no longer log in") from None
        except InvalidGrant:
            if before is not None:
                self._undo(token, before)
            raise
        claims = issuance.claims_of(svc, token.connector_id, identity)
        claims = second_factor.keep_authentication(claims, token.claims)
        if narrowed(token.claims, claims):
            token = self._move_chain(token, claims, identity.connector_data)
            token_id = token.id
        elif claims != token.claims or identity.connector_data != token.connector_data:
            rotated = token.token_hash
            token = svc.storage.update_refresh_token(
                token_id,
                lambda t: (
                    replace(t, claims=claims, connector_data=identity.connector_data)
                    if t.token_hash == rotated
                    else t
                ),
            )

        scopes = sc.parse(requested) if requested else token.scopes
        grant = issuance.grant_of(
            token,
            scopes=scopes,
            claims=claims,
            connector_data=None,
            grant_id=revocation.grant_id_of(token_id),
        )
        check_issue_policy(svc, self.treq, grant)
        return issuance.token_response(
            svc,
            grant,
            now,
            refresh_token=f"{token_id}.{outcome['secret']}",
            requested_scopes=token.scopes,
            include_nonce=False,
        )

    def _rotate(
        self, old: RefreshToken, secret: str, requested: str | None, outcome: dict[str, Any]
    ) -> RefreshToken:
        """Runs inside the update (maybe more than once): judge the presented secret, then
        rotate (or not)."""
        svc = self.svc
        outcome.clear()  # what an earlier, voided judgement of this request decided
        now = svc.clock.now()  # read after ``old``: the write that made it is in the past
        outcome["now"] = now
        if old.client_id != self.client.id:
            raise InvalidGrant("refresh token was issued to another client")
        presented = issuance.hash_secret(secret)
        retry = self._is_retry(old, presented, now)
        if old.expiry is not None and old.expiry <= now:
            raise _Expired()
        if requested and not set(sc.parse(requested)) <= set(old.scopes):
            raise InvalidScope("requested scope exceeds the original grant")
        if retry:
            current = open_successor(old.id, secret, old.successor_sealed)
            if current and _matches(issuance.hash_secret(current), old.token_hash):
                outcome["secret"] = current
                return old  # the same answer as the request that rotated; nothing to write
            # rotated by a release that did not seal its successor: rotate again, as it did
        outcome["before"] = old
        changes: dict[str, Any] = {
            "last_used": now,
            "expiry": issuance.refresh_expiry(svc, old.created_at, now),
        }
        if svc.config.expiry.refresh_tokens.disable_rotation:
            outcome["secret"] = secret
            return replace(old, **changes)
        new_secret = secrets.token_urlsafe(32)
        outcome["secret"] = new_secret
        changes["token_hash"] = issuance.hash_secret(new_secret)
        changes["successor_sealed"] = seal_successor(old.id, secret, new_secret)
        if not retry:
            changes["obsolete_token_hash"] = old.token_hash
            changes["retired_token_hashes"] = (old.token_hash, *old.retired_token_hashes)[
                :RETIRED_KEPT
            ]
        return replace(old, **changes)

    def _is_retry(self, token: RefreshToken, presented: str, now: datetime) -> bool:
        """False for the current secret, True for the previous one within the reuse interval;
        raises ``_Reuse`` for a rotated-out secret and ``InvalidGrant`` for a stranger."""
        if _matches(presented, token.token_hash):
            return False
        reuse = self.svc.config.expiry.refresh_tokens.reuse_interval
        if _matches(presented, token.obsolete_token_hash):
            if reuse > timedelta(0) and now - token.last_used < reuse:
                return True
        elif not any(_matches(presented, h) for h in token.retired_token_hashes):
            raise InvalidGrant("invalid refresh token")
        log.warning("refresh token reuse for client %s: revoking the chain", token.client_id)
        audit("refresh_reuse", FAILURE, client=token.client_id, user=token.claims.user_id)
        count_event("dexpy_refresh_reuse_detected_total")
        raise _Reuse()

    def _current_identity(self, token: RefreshToken) -> Identity:
        """Ask the connector who the user is now (identity and groups stay current)."""
        svc = self.svc
        identity = issuance.identity_of(token.claims, token.connector_data)
        entry = svc.connectors.get(token.connector_id)
        if entry is None or not entry.available:
            raise InvalidGrant("the connector of this refresh token is no longer available")
        refresher = entry.refresher()
        if refresher is None:
            return identity
        try:
            return refresher.refresh(sc.for_connector(token.scopes), identity)
        except UserGone as exc:
            log.info("refresh: connector %s says the user is gone: %s", token.connector_id, exc)
            raise _UserGone() from None
        except ConnectorError as exc:
            log.info("refresh refused by connector %s: %s", token.connector_id, exc)
            raise InvalidGrant("the user may no longer log in") from None

    def _move_chain(
        self, token: RefreshToken, claims: Claims, connector_data: bytes | None
    ) -> RefreshToken:
        """The chain under a new id with the user's current claims; the old id is revoked
        with every token issued under it (see the module docstring)."""
        moved = replace(
            token,
            id=secrets.token_urlsafe(16),
            claims=claims,
            connector_data=connector_data,
            obsolete_token_hash="",
            successor_sealed="",
            retired_token_hashes=(),
        )
        self.svc.storage.create_refresh_token(moved)
        revocation.revoke_grant(self.svc, token.id)
        log.info("refresh: the user's claims narrowed; chain moved to a new id, old tokens revoked")
        return moved

    def _undo(self, rotated: RefreshToken, previous: RefreshToken) -> None:
        """Put back the token as it was before this request rotated it (unless another
        request has moved it on since)."""
        with contextlib.suppress(NotFoundError):
            self.svc.storage.update_refresh_token(
                rotated.id,
                lambda t: previous if t.token_hash == rotated.token_hash else t,
            )
