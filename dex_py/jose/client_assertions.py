"""``private_key_jwt`` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OIDC Core §9).

The client sends ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
and ``client_assertion``, a JWT it signed with a private key whose public half we know from its
``jwks`` (an inline JWK Set) or ``jwks_uri``. We accept the assertion when:

- the signature verifies with one of the client's keys, by ``kid`` (a ``kid`` may be left out
  only when exactly one key fits the algorithm, OIDC Core §10.1);
- the algorithm is RS256 or ES256: the token's ``alg`` only selects among the client's keys of
  that type, so ``none``, HMAC (the "public key as HMAC secret" confusion) and anything else are
  refused (RFC 8725 §3.1);
- ``iss`` and ``sub`` both equal the client id (RFC 7523 §3 items 1-2);
- ``aud`` names our issuer or our token endpoint URL, exactly (RFC 7523 §3 item 3);
- ``exp`` is in the future but at most ``MAX_LIFETIME`` (1 hour) ahead; ``nbf``/``iat`` are not
  in the future beyond ``LEEWAY`` (RFC 7523 §3 items 4-6);
- ``jti`` is present and has not been seen for this client before (OIDC Core §9, RFC 7523 §3
  item 7). Seen ``jti``s are recorded in storage's revoked-token list under
  ``assertion:<sha256(client id, jti)>`` until the assertion's ``exp`` (then garbage
  collected). Recording is one insert on that list's unique key, and whoever inserts first
  wins: of processes or replicas receiving the same assertion at once, exactly one accepts it.

A ``jwks_uri`` is fetched with a timeout and a size limit, cached for ``JWKSCache.ttl`` and
re-fetched once when an assertion names an unknown ``kid`` (key rotation), at most once per
``JWKSCache.refetch_interval`` so random ``kid``s cannot make us hammer the client's server.
Every failure is ``invalid_client`` with a short reason; nothing secret is logged. Keys and
signatures are handled by joserfc, the one JOSE library for what comes from outside.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import requests
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from dex_py.clock import Clock
from dex_py.errors import InvalidClient
from dex_py.jose import tokens
from dex_py.storage.base import Client, Storage

log = logging.getLogger("dex_py.client_assertions")  # the name before the move

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT = "private_key_jwt"
ALGORITHMS = ("RS256", "ES256")
MAX_LIFETIME = timedelta(hours=1)
LEEWAY = 60  # seconds of clock skew tolerated for nbf and iat
MAX_JTI_LENGTH = 512
MAX_JWKS_BYTES = 256 * 1024
REPLAY_PREFIX = "assertion:"


@dataclass(frozen=True)
class _Assertion:
    header: dict[str, Any]
    claims: dict[str, Any]


@dataclass(frozen=True)
class ClientKey:
    """A verification key of a client (from its ``jwks`` or ``jwks_uri``), parsed by joserfc."""

    kid: str  # the JWK's kid, or its RFC 7638 thumbprint
    alg: str  # RS256 or ES256
    key: RSAKey | ECKey

    def verifies(self, assertion: str) -> bool:
        """Whether the compact JWS ``assertion`` carries a valid ``alg`` signature by this key."""
        try:
            jws.deserialize_compact(assertion, self.key, algorithms=[self.alg])
        except (JoseError, ValueError, TypeError):
            return False
        return True


def _segment_json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(tokens.b64url_decode(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidClient("malformed client assertion") from None
    if not isinstance(value, dict):
        raise InvalidClient("malformed client assertion")
    return value


def parse_assertion(assertion: str) -> _Assertion:
    """Split and decode a compact JWS without trusting it yet."""
    if len(assertion) > tokens.MAX_TOKEN_LENGTH:
        raise InvalidClient("client assertion too large")
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidClient("malformed client assertion")
    header, claims = _segment_json(parts[0]), _segment_json(parts[1])
    try:
        signature = tokens.b64url_decode(parts[2])
    except ValueError:
        raise InvalidClient("malformed client assertion") from None
    if tokens.b64url_encode(signature) != parts[2]:
        raise InvalidClient("malformed client assertion")
    return _Assertion(header, claims)


def unverified_subject(assertion: str) -> str:
    """The ``sub`` an assertion claims (which client to look up); verified later."""
    sub = parse_assertion(assertion).claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidClient("client assertion has no sub")
    return sub


def _usable_for_signatures(member: dict[str, Any]) -> bool:
    use = member.get("use")
    ops = member.get("key_ops")
    if use is not None and use != "sig":
        return False
    return ops is None or (isinstance(ops, list) and "verify" in ops)


_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def _client_key(member: dict[str, Any]) -> ClientKey | None:
    """The RS256/ES256 verification key of one JWK Set member, or ``None`` if it is none."""
    kty, alg = member.get("kty"), member.get("alg")
    if alg is None:
        alg = (
            "RS256"
            if kty == "RSA"
            else "ES256"
            if (kty, member.get("crv")) == ("EC", "P-256")
            else None
        )
    if alg not in ALGORITHMS or kty not in ("RSA", "EC"):
        return None
    public = {k: v for k, v in member.items() if k not in _PRIVATE_MEMBERS}
    try:
        key = JWKRegistry.import_key(public)
        kid = str(public["kid"]) if "kid" in public else key.thumbprint()
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(key, RSAKey | ECKey):
        return None
    return ClientKey(kid=kid, alg=str(alg), key=key)


@functools.lru_cache(maxsize=256)
def parse_jwks(text: str) -> tuple[ClientKey, ...]:
    """The RS256/ES256 verification keys of a JWK Set document (RFC 7517 §5); other keys (HMAC
    secrets, encryption keys, unknown types) are skipped. Raises ``ValueError`` if ``text`` is not
    a JWK Set. Cached by text, so a client's inline set is parsed once per process."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    members = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(members, list):
        raise ValueError('not a JWK Set (no "keys" list)')
    out: list[ClientKey] = []
    for member in members:
        if isinstance(member, dict) and _usable_for_signatures(member):
            key = _client_key(member)
            if key is not None:
                out.append(key)
    return tuple(out)


Fetcher = Callable[[str, float], bytes]


def http_fetch(uri: str, timeout: float) -> bytes:
    """GET ``uri`` with a timeout and a size limit (``MAX_JWKS_BYTES``); no redirects."""
    with requests.get(
        uri,
        timeout=timeout,
        stream=True,
        allow_redirects=False,
        headers={"Accept": "application/jwk-set+json, application/json"},
    ) as resp:
        if resp.status_code != 200:
            raise OSError(f"HTTP {resp.status_code}")
        body = b""
        for chunk in resp.iter_content(65536):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise OSError("JWK Set too large")
        return body


@dataclass
class _Fetched:
    keys: tuple[ClientKey, ...]
    fetched_at: datetime
    retry_at: datetime  # no new fetch before this (after a fetch or a failed attempt)


class JWKSCache:
    """Key sets of clients that publish a ``jwks_uri``, fetched on demand and kept ``ttl``.

    A fetch happens when the cached set is older than ``ttl`` or lacks the ``kid`` asked for,
    but never sooner than ``refetch_interval`` after the previous attempt. If a fetch fails, the
    last good set stays in use (the client is not locked out by a blip of its server)."""

    def __init__(
        self,
        clock: Clock,
        *,
        fetch: Fetcher = http_fetch,
        timeout: float = 5.0,
        ttl: timedelta = timedelta(minutes=10),
        refetch_interval: timedelta = timedelta(seconds=10),
    ) -> None:
        self.clock = clock
        self.fetch = fetch
        self.timeout = timeout
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._uri_locks: dict[str, threading.Lock] = {}
        self._entries: dict[str, _Fetched] = {}

    def keys(self, uri: str, kid: str | None) -> tuple[ClientKey, ...]:
        """The keys at ``uri``: from cache while fresh, re-fetched once if ``kid`` is unknown."""
        with self._lock:
            uri_lock = self._uri_locks.setdefault(uri, threading.Lock())
        with uri_lock:
            now = self.clock.now()
            entry = self._entries.get(uri)
            if entry is None:
                return self._refresh(uri, now, None).keys
            expired = now - entry.fetched_at >= self.ttl
            unknown = kid is not None and all(k.kid != kid for k in entry.keys)
            if (expired or unknown) and now >= entry.retry_at:
                if unknown:
                    log.info("client key set %s lacks kid %s: fetching it", uri, str(kid)[:64])
                entry = self._refresh(uri, now, entry)
            return entry.keys

    def _refresh(self, uri: str, now: datetime, stale: _Fetched | None) -> _Fetched:
        retry_at = now + self.refetch_interval
        try:
            keys = parse_jwks(self.fetch(uri, self.timeout).decode("utf-8"))
        except (OSError, ValueError, requests.RequestException) as exc:
            log.warning("cannot fetch client key set %s: %s", uri, type(exc).__name__)
            if stale is None:
                raise InvalidClient("the client's key set could not be fetched") from None
            stale.retry_at = retry_at
            return stale
        entry = _Fetched(keys, now, retry_at)
        self._entries[uri] = entry
        return entry


class ClientAssertionVerifier:
    """Verifies ``private_key_jwt`` assertions for the endpoints that authenticate clients.

    ``audiences`` are the ``aud`` values we accept (our issuer and token endpoint URL)."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        audiences: Iterable[str],
        *,
        jwks_cache: JWKSCache | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.audiences = frozenset(audiences)
        self.jwks_cache = jwks_cache or JWKSCache(clock)

    def verify(self, client: Client, assertion: str) -> None:
        """Accept ``assertion`` as proof the caller is ``client``, or raise ``InvalidClient``."""
        parsed = parse_assertion(assertion)
        key = self._key_for(client, parsed.header)
        if not key.verifies(assertion):
            raise InvalidClient("client assertion signature does not verify")
        exp = self._check_claims(client, parsed.claims)
        self._consume_jti(client, str(parsed.claims["jti"]), exp)

    def _key_for(self, client: Client, header: dict[str, Any]) -> ClientKey:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise InvalidClient("client assertion algorithm not allowed (RS256 or ES256)")
        if "crit" in header:
            raise InvalidClient("client assertion has unsupported critical headers")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidClient("malformed client assertion")
        keys = self._client_keys(client, kid)
        candidates = [k for k in keys if k.alg == alg and (kid is None or k.kid == kid)]
        if len(candidates) != 1:
            why = "unknown kid" if kid is not None else "no kid and not exactly one key"
            raise InvalidClient(f"no key of the client matches the assertion ({why})")
        return candidates[0]

    def _client_keys(self, client: Client, kid: str | None) -> tuple[ClientKey, ...]:
        if client.jwks:
            try:
                return parse_jwks(client.jwks)
            except ValueError:
                log.warning("client %s has an unreadable jwks", client.id)
                raise InvalidClient("the client has no usable keys") from None
        if client.jwks_uri:
            return self.jwks_cache.keys(client.jwks_uri, kid)
        raise InvalidClient("the client has no keys for private_key_jwt")

    def _check_claims(self, client: Client, claims: dict[str, Any]) -> datetime:
        if claims.get("iss") != client.id or claims.get("sub") != client.id:
            raise InvalidClient("client assertion iss and sub must be the client id")
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in self.audiences for a in auds):
            raise InvalidClient("client assertion aud must name this server's token endpoint")
        now = self.clock.now().timestamp()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise InvalidClient("client assertion needs a numeric exp")
        if exp <= now:
            raise InvalidClient("client assertion expired")
        if exp > now + MAX_LIFETIME.total_seconds():
            raise InvalidClient("client assertion lives too long (exp at most 1 hour ahead)")
        for name in ("nbf", "iat"):
            if name in claims:
                value = claims[name]
                if not _is_number(value) or value > now + LEEWAY:
                    raise InvalidClient(f"client assertion {name} is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidClient("client assertion needs a jti")
        return datetime.fromtimestamp(float(exp), UTC)

    def _consume_jti(self, client: Client, jti: str, exp: datetime) -> None:
        digest = hashlib.sha256(f"{client.id}\0{jti}".encode()).hexdigest()
        if not self.storage.revoke_access_token(REPLAY_PREFIX + digest, exp):
            log.warning("replayed client assertion for client %s", client.id)
            raise InvalidClient("client assertion already used")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
