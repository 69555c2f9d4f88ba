"""The signing keys as an operator sees them (OIDC Core §10.1): the key in use, the retired
public keys still published in the JWKS, when the next rotation is due, and rotating now.

Storage keeps no creation time: a signing key was made one rotation period before its
``next_rotation`` (every rotation sets that), and a retired key was retired one ID token
lifetime before the end of its publication. Rotation is the key manager's compare-and-swap
(``dex_py.jose.keys.KeyManager.rotate_now``), so two admins rotating at once make one new key.
Private keys never leave ``dex_py.jose``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dex_py.jose.jwk import kid_of
from dex_py.jose.keys import key_infos
from dex_py.management.actor import Actor, audited
from dex_py.management.errors import storage_errors
from dex_py.services import Services

__all__ = ["KeySet", "KeyView", "key_set", "rotate_now"]


@dataclass(frozen=True)
class KeyView:
    """One published key. ``status``: signing (in use), retired (still published to verify
    tokens it signed) or expired (no longer published, removed at the next rotation)."""

    kid: str
    alg: str
    status: str
    created: datetime | None  # the signing key's; None for a retired one
    retired_at: datetime | None  # a retired key's; None for the signing key
    expiry: datetime  # signing: next rotation; retired: end of publication


@dataclass(frozen=True)
class KeySet:
    """The whole key set: ``keys`` (the signing key first), rotation schedule and the JWKS
    document published at ``/keys``."""

    keys: tuple[KeyView, ...]
    algorithm: str
    rotation_period: timedelta
    next_rotation: datetime
    signing_key_age: timedelta | None
    jwks: dict[str, Any]


def key_set(svc: Services) -> KeySet:
    """The stored key set as it is now (read from storage, not this process's cache)."""
    with storage_errors("signing key set"):
        row = svc.storage.get_keys()
    now = svc.clock.now()
    period = svc.keys.rotation_period
    views: list[KeyView] = []
    for info in key_infos(row, now):
        signing = info.status == "signing"
        views.append(
            KeyView(
                kid=info.kid,
                alg=info.alg,
                status=info.status,
                created=info.expiry - period if signing else None,
                retired_at=None if signing else info.expiry - svc.keys.id_token_lifetime,
                expiry=info.expiry,
            )
        )
    created = views[0].created if views and views[0].status == "signing" else None
    return KeySet(
        keys=tuple(views),
        algorithm=svc.keys.algorithm,
        rotation_period=period,
        next_rotation=row.next_rotation,
        signing_key_age=max(now - created, timedelta(0)) if created is not None else None,
        jwks=json.loads(svc.keys.jwks_json()),
    )


def rotate_now(svc: Services, actor: Actor) -> str:
    """Rotate the signing key now; returns the new key's ``kid``. The old one stays published
    until the tokens it signed have expired."""
    with storage_errors("signing key set"):
        previous = kid_of(svc.storage.get_keys().signing_key)
    with audited(svc, actor, "key.rotate", "key", previous) as out:
        kid = svc.keys.rotate_now()
        out.update(new_kid=kid)
    return kid
