"""Signing keys: generate, cache, rotate (compare-and-swap across replicas) and publish as JWKS.

OIDC Core §10.1 (key rotation); RFC 7517 §5 (JWK Set). The JOSE primitives (key generation and
parsing, ``Signer``, ``PublicKey``, ``kid_of``) live in ``dex_py.jose.jwk``.

Storage holds one ``Keys`` row: the private signing key, its public half, the retired public keys
(each published until every token it signed has expired) and ``next_rotation``. Every process
keeps an immutable in-memory snapshot of that row with the keys already parsed and the JWKS
document already serialised, and re-reads storage at most every ``refresh_interval`` seconds, or
once when ``next_rotation`` (or a retired key's expiry) passes. The hot paths (``signer()``,
``public_key()``, ``jwks_json()``) cost a clock read and a comparison; they never parse a key and
never touch storage between refreshes.

Rotation is a compare-and-swap through ``storage.update_keys``: the new key is generated outside
the lock, and inside it the updater re-checks ``next_rotation`` and leaves the row unchanged when
another replica rotated first, so exactly one process rotates. Nothing rotates on the request
path; the app's housekeeping loop calls ``rotate_if_due()`` (and ``dex-py keys rotate`` forces
one). Per-operation JOSE costs are measured in ``dex_py.jose.jwk``'s docstring.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dex_py.clock import Clock
from dex_py.jose.jwk import (
    SUPPORTED_ALGORITHMS,
    KeyStoreError,
    NewKey,
    PublicKey,
    Signer,
    generate_jwk,
    kid_of,
    public_jwk,
)

# Module-level names: KeyManager looks the parsers up here on each call (tests count parses).
from dex_py.jose.jwk import parse_private as _parse_private
from dex_py.jose.jwk import parse_public as _parse_public
from dex_py.storage.base import Keys, NotFoundError, Storage, VerificationKey

log = logging.getLogger("dex_py.keys")  # the name before the move

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Snapshot:
    row: Keys
    signer: Signer
    public: dict[str, PublicKey]  # kid -> key, current first
    parsed: dict[str, PublicKey]  # verification JWK text -> parsed key (reuse across reloads)
    jwks: bytes
    loaded_at: datetime
    valid_until: datetime  # re-read storage once now reaches this


@dataclass(frozen=True)
class KeyInfo:
    """One row of ``dex-py keys list``."""

    kid: str
    alg: str
    status: str  # signing | retired | expired
    expiry: datetime  # signing: next rotation; retired: end of publication


def key_infos(row: Keys, now: datetime) -> list[KeyInfo]:
    """Describe a stored key set (for ``dex-py keys list``)."""
    infos = []
    if row.signing_key:
        alg = str(json.loads(row.signing_key).get("alg", "?"))
        infos.append(KeyInfo(kid_of(row.signing_key), alg, "signing", row.next_rotation))
    for vk in row.verification_keys:
        alg = str(json.loads(vk.jwk).get("alg", "?"))
        status = "retired" if now <= vk.expiry else "expired"
        infos.append(KeyInfo(kid_of(vk.jwk), alg, status, vk.expiry))
    return infos


class KeyManager:
    """The signing key set of one process: cached, refreshed cheaply, rotated by CAS."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        algorithm: str = "RS256",
        rotation_period: timedelta,
        id_token_lifetime: timedelta,
        refresh_interval: float = 5.0,
    ) -> None:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        if rotation_period <= timedelta(0):
            raise ValueError("rotation_period must be positive")
        self._storage = storage
        self._clock = clock
        self.algorithm = algorithm
        self.rotation_period = rotation_period
        self.id_token_lifetime = id_token_lifetime
        self._refresh = timedelta(seconds=refresh_interval)
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()

    # -- hot path -------------------------------------------------------------------------

    def signer(self) -> Signer:
        """The current signing key."""
        return self._current().signer

    def public_key(self, kid: str) -> PublicKey | None:
        """A published key by ``kid`` (current or retired and not yet expired), else None."""
        return self._current().public.get(kid)

    def jwks_json(self) -> bytes:
        """The JWKS document ``{"keys": [current, retired...]}`` (RFC 7517 §5), cached bytes."""
        return self._current().jwks

    def jwks_max_age(self) -> int:
        """Seconds a client may cache the JWKS: until the next rotation (at least 0)."""
        snap = self._current()
        return max(0, int((snap.row.next_rotation - self._clock.now()).total_seconds()))

    def _current(self) -> _Snapshot:
        snap = self._snap
        now = self._clock.now()
        if snap is not None and snap.loaded_at <= now < snap.valid_until:
            return snap
        if snap is not None:
            if not self._lock.acquire(blocking=False):
                return snap  # another thread is refreshing; the old snapshot is still good
        else:
            self._lock.acquire()
        try:
            latest = self._snap
            if (
                latest is not None
                and latest is not snap
                and latest.loaded_at <= now < latest.valid_until
            ):
                return latest
            return self._reload(now)
        finally:
            self._lock.release()

    def _reload(self, now: datetime) -> _Snapshot:
        snap = self._snap
        try:
            row = self._read()
        except Exception:
            if snap is None:
                raise
            log.warning("cannot re-read signing keys; using cached set", exc_info=True)
            return self._install(snap.row, now)  # still drops retired keys as they expire
        if row is None or not row.signing_key:
            self.ensure()
            assert self._snap is not None
            return self._snap
        return self._install(row, now)

    def _read(self) -> Keys | None:
        try:
            return self._storage.get_keys()
        except NotFoundError:
            return None

    def _install(self, row: Keys, now: datetime) -> _Snapshot:
        """Build (or refresh) the snapshot for ``row``, reusing already parsed keys."""
        old = self._snap
        if old is not None and old.row.signing_key == row.signing_key:
            signer, current = old.signer, next(iter(old.public.values()))
        else:
            signer, current = _parse_private(row.signing_key)
        parsed: dict[str, PublicKey] = {}
        public = {current.kid: current}
        first_expiry: datetime | None = None
        for vk in row.verification_keys:
            if now > vk.expiry:
                continue
            pk = old.parsed.get(vk.jwk) if old is not None else None
            if pk is None:
                try:
                    pk = _parse_public(vk.jwk)
                except KeyStoreError as exc:
                    log.warning("skipping unreadable verification key: %s", exc)
                    continue
            parsed[vk.jwk] = pk
            public.setdefault(pk.kid, pk)
            if first_expiry is None or vk.expiry < first_expiry:
                first_expiry = vk.expiry
        if old is not None and old.row == row and old.public.keys() == public.keys():
            jwks = old.jwks
        else:
            doc = {"keys": [pk.jwk for pk in public.values()]}
            jwks = json.dumps(doc, separators=(",", ":")).encode()
        valid_until = now + self._refresh
        if now < row.next_rotation:
            valid_until = min(valid_until, row.next_rotation)
        if first_expiry is not None:
            valid_until = min(valid_until, first_expiry + _ONE_US)
        snap = _Snapshot(row, signer, public, parsed, jwks, now, valid_until)
        self._snap = snap
        return snap

    # -- creation and rotation ------------------------------------------------------------

    def ensure(self) -> None:
        """Create the first signing key if storage has none (and rotate to the configured
        algorithm if the stored key uses another one). Safe to call from every replica."""
        row = self._read()
        if row is not None and row.signing_key and self._alg_matches(row):
            self._install(row, self._clock.now())
            return
        fresh = generate_jwk(self.algorithm)

        def fn(old: Keys | None) -> Keys:
            if old is not None and old.signing_key and self._alg_matches(old):
                return old
            return self._rotated(old, fresh, self._clock.now())

        new = self._storage.update_keys(fn)
        if kid_of(new.signing_key) == fresh.kid:
            log.info("created signing key %s (%s)", fresh.kid, self.algorithm)
        self._install(new, self._clock.now())

    def rotate_if_due(self) -> bool:
        """Rotate if ``next_rotation`` has passed; True only in the process that rotated."""
        now = self._clock.now()
        snap = self._snap
        if snap is not None and now < snap.row.next_rotation:
            return False
        row = self._read()
        if row is not None and row.signing_key and now < row.next_rotation:
            self._install(row, now)
            return False
        fresh = generate_jwk(self.algorithm)
        outcome = {"rotated": False}

        def fn(old: Keys | None) -> Keys:
            at = self._clock.now()
            outcome["rotated"] = False
            if old is not None and old.signing_key and at < old.next_rotation:
                return old  # another replica rotated first
            outcome["rotated"] = True
            return self._rotated(old, fresh, at)

        new = self._storage.update_keys(fn)
        self._install(new, self._clock.now())
        if outcome["rotated"]:
            log.info("rotated signing key: now %s", fresh.kid)
        return outcome["rotated"]

    def rotate_now(self) -> str:
        """Force a rotation now (``dex-py keys rotate``); returns the new signing ``kid``.

        CAS-safe: if another replica rotated between our read and our write, its fresh key is
        kept and no second rotation happens."""
        row = self._read()
        expected = kid_of(row.signing_key) if row is not None else ""
        fresh = generate_jwk(self.algorithm)

        def fn(old: Keys | None) -> Keys:
            current = kid_of(old.signing_key) if old is not None else ""
            if current != expected:
                return old if old is not None else self._rotated(None, fresh, self._clock.now())
            return self._rotated(old, fresh, self._clock.now())

        new = self._storage.update_keys(fn)
        self._install(new, self._clock.now())
        kid = kid_of(new.signing_key)
        log.info("forced signing key rotation: now %s", kid)
        return kid

    def _alg_matches(self, row: Keys) -> bool:
        try:
            return json.loads(row.signing_key).get("alg") == self.algorithm
        except (ValueError, AttributeError):
            return False

    def _rotated(self, old: Keys | None, fresh: NewKey, now: datetime) -> Keys:
        """The row after rotating ``old`` to ``fresh`` at ``now``."""
        retired: list[VerificationKey] = []
        if old is not None:
            retired = [vk for vk in old.verification_keys if now <= vk.expiry]
            pub = old.signing_key_pub
            if not pub and old.signing_key:
                try:
                    pub = public_jwk(old.signing_key)
                except KeyStoreError:
                    log.warning("dropping unreadable old signing key at rotation")
            if pub:
                retired.append(VerificationKey(jwk=pub, expiry=now + self.id_token_lifetime))
        return Keys(
            signing_key=fresh.private_jwk,
            signing_key_pub=fresh.public_jwk,
            verification_keys=tuple(retired),
            next_rotation=now + self.rotation_period,
        )


def manager_from_config(storage: Storage, clock: Clock, config: Any) -> KeyManager:
    """A ``KeyManager`` set up from a loaded ``dex_py.config.Config``."""
    return KeyManager(
        storage,
        clock,
        algorithm=config.signing.algorithm,
        rotation_period=config.expiry.signing_keys,
        id_token_lifetime=config.expiry.token_lifetime,
    )
