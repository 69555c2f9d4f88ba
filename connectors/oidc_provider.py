"""The upstream OpenID Provider as the ``oidc`` connector sees it.

- discovery (OpenID Connect Discovery 1.0 §4): fetched lazily on first use, with a timeout, and
  cached; the document's ``issuer`` must equal the configured issuer exactly (§4.3);
- its JWKS, cached; a token whose key is unknown (or whose signature fails, as after a rotation
  that kept the ``kid``) makes us re-fetch the JWKS once, at most once per
  ``JWKS_REFETCH_INTERVAL`` seconds;
- ID token validation (OpenID Connect Core §3.1.3.7) with joserfc: the algorithm comes from the
  key (never ``none`` or an HMAC), then ``iss``, ``aud``/``azp``, ``exp``/``iat``/``nbf`` with a
  small leeway and, on login, ``nonce``;
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

import requests
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import Key, KeySet

from connectors.base import ConnectorError
from connectors.oidc_config import ProviderDiscoveryOverrides

__all__ = [
    "ALLOWED_ALGS",
    "JWKS_REFETCH_INTERVAL",
    "LEEWAY",
    "ProviderMetadata",
    "UpstreamProvider",
]

TIMEOUT = 10.0
CHECK_TIMEOUT = 3.0
LEEWAY = 30  # seconds of clock skew tolerated on exp / iat / nbf
JWKS_REFETCH_INTERVAL = 1.0  # seconds; bounds JWKS fetches caused by unknown keys
MAX_TOKEN_LENGTH = 64 * 1024

# Asymmetric JWS algorithms only (RFC 7518 §3.1, RFC 8037): never "none" nor HS*.
_ALG_KEY: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
ALLOWED_ALGS = frozenset(_ALG_KEY)
# joserfc warns on every use of the name "EdDSA" (RFC 9864 prefers "Ed25519"); upstreams still
# send it, and the warning is no news to the operator.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the connector uses (overrides applied)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    scopes_supported: tuple[str, ...] | None = None
    iss_parameter_supported: bool = False


def get_json(
    http: requests.Session,
    url: str,
    *,
    what: str,
    log: logging.Logger,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """GET ``url`` and return its JSON object; ``ConnectorError`` naming ``what`` otherwise.
    ``verify`` is passed per request because requests lets ``REQUESTS_CA_BUNDLE`` override a
    session's own ``verify``."""
    try:
        resp = http.get(
            url, headers=headers, timeout=timeout, allow_redirects=False, verify=http.verify
        )
    except requests.RequestException as exc:
        log.warning("upstream %s request to %s failed: %s", what, url, exc.__class__.__name__)
        raise ConnectorError(f"The identity provider could not be reached ({what}).") from None
    if resp.status_code != 200:
        log.warning("upstream %s at %s answered HTTP %s", what, url, resp.status_code)
        raise ConnectorError(f"The identity provider answered HTTP {resp.status_code} ({what}).")
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ConnectorError(f"The identity provider sent an invalid {what} response.")
    return data


class UpstreamProvider:
    """Discovery, JWKS and ID token validation for one upstream issuer (thread-safe)."""

    def __init__(
        self,
        issuer: str,
        *,
        http: requests.Session,
        log: logging.Logger,
        overrides: ProviderDiscoveryOverrides | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.http = http
        self._log = log
        self._overrides = overrides or ProviderDiscoveryOverrides()
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._jwks: KeySet | None = None
        self._jwks_fetched_at = float("-inf")
        self.jwks_fetches = 0  # for tests and debugging

    # --- discovery ----------------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def metadata(self) -> ProviderMetadata:
        """The cached discovery document, fetched on first use (``ConnectorError`` on failure)."""
        with self._lock:
            if self._metadata is None:
                self._metadata = self._discover(TIMEOUT)
            return self._metadata

    def check(self) -> None:
        """Fetch discovery now (short timeout): ``ConnectorError`` when the upstream is down."""
        meta = self._discover(CHECK_TIMEOUT)
        with self._lock:
            self._metadata = meta

    def _discover(self, timeout: float) -> ProviderMetadata:
        doc = get_json(
            self.http, self.discovery_url, what="discovery", log=self._log, timeout=timeout
        )
        if doc.get("issuer") != self.issuer:
            self._log.error(
                "discovery issuer %r does not match the configured issuer %r",
                doc.get("issuer"),
                self.issuer,
            )
            raise ConnectorError("The identity provider's issuer does not match the configuration.")
        o = self._overrides
        endpoints = {
            "authorization_endpoint": o.auth_url or doc.get("authorization_endpoint"),
            "token_endpoint": o.token_url or doc.get("token_endpoint"),
            "jwks_uri": o.jwks_url or doc.get("jwks_uri"),
        }
        for name, value in endpoints.items():
            if not isinstance(value, str) or not value:
                raise ConnectorError(f"The identity provider's discovery document lacks {name}.")
        userinfo = o.userinfo_url or doc.get("userinfo_endpoint") or ""
        scopes = doc.get("scopes_supported")
        return ProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=str(endpoints["authorization_endpoint"]),
            token_endpoint=str(endpoints["token_endpoint"]),
            jwks_uri=str(endpoints["jwks_uri"]),
            userinfo_endpoint=userinfo if isinstance(userinfo, str) else "",
            scopes_supported=tuple(str(s) for s in scopes) if isinstance(scopes, list) else None,
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported")
            is True,
        )

    # --- keys ---------------------------------------------------------------------------------

    def _keyset(self, *, refetch: bool) -> tuple[KeySet, bool]:
        """The cached JWKS (fetched if absent, or re-fetched if ``refetch`` and allowed), and
        whether it was fetched by this call."""
        with self._lock:
            now = self._monotonic()
            may_refetch = refetch and now - self._jwks_fetched_at >= JWKS_REFETCH_INTERVAL
            if self._jwks is not None and not may_refetch:
                return self._jwks, False
            meta = self._metadata
        if meta is None:
            meta = self.metadata()
        doc = get_json(self.http, meta.jwks_uri, what="JWKS", log=self._log)
        try:
            keyset = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            raise ConnectorError("The identity provider sent an invalid JWKS.") from None
        with self._lock:
            self._jwks = keyset
            self._jwks_fetched_at = self._monotonic()
            self.jwks_fetches += 1
        self._log.debug("fetched upstream JWKS (%d keys)", len(keyset.keys))
        return keyset, True

    @staticmethod
    def _candidates(keyset: KeySet, kid: str | None, alg: str) -> Iterable[Key]:
        kty, crv = _ALG_KEY[alg]
        for k in keyset.keys:
            if kid is not None and k.get("kid") != kid:
                continue
            if k.get("use") not in (None, "sig") or k.get("kty") != kty:
                continue
            if crv is not None and k.get("crv") != crv:
                continue
            if k.get("alg") not in (None, alg):
                continue  # a key that names its algorithm is used with that one only
            yield k

    @staticmethod
    def _verifies(raw: str, key: Key, alg: str) -> bytes | None:
        try:
            return jws.deserialize_compact(raw, key, algorithms=[alg]).payload
        except (JoseError, ValueError, TypeError):
            return None

    def _try_keys(self, raw: str, keyset: KeySet, kid: str | None, alg: str) -> bytes | None:
        for key in self._candidates(keyset, kid, alg):
            payload = self._verifies(raw, key, alg)
            if payload is not None:
                return payload
        return None

    def _payload(self, raw: str, kid: str | None, alg: str) -> bytes:
        keyset, fresh = self._keyset(refetch=False)
        payload = self._try_keys(raw, keyset, kid, alg)
        if payload is None and not fresh:
            # Unknown key or a failed signature: the upstream may have rotated its keys.
            keyset, fresh = self._keyset(refetch=True)
            if fresh:
                payload = self._try_keys(raw, keyset, kid, alg)
        if payload is None:
            self._log.warning("upstream token signature did not verify (kid %r, alg %s)", kid, alg)
            raise ConnectorError("The identity provider's token has an invalid signature.")
        return payload

    # --- ID tokens ------------------------------------------------------------------------------

    def verify_id_token(
        self, raw: str, *, client_id: str, nonce: str | None = None
    ) -> dict[str, Any]:
        """Validate an upstream ID token (OIDC Core §3.1.3.7) and return its claims.
        ``nonce`` is checked when given (logins; not refreshes or token exchange)."""
        if not isinstance(raw, str) or len(raw) > MAX_TOKEN_LENGTH or raw.count(".") != 2:
            raise ConnectorError("The identity provider's ID token is not a signed JWT.")
        try:
            header = jws.extract_compact(raw.encode()).headers()
        except (JoseError, ValueError, TypeError, UnicodeError):
            raise ConnectorError("The identity provider's ID token is malformed.") from None
        if not isinstance(header, dict):
            raise ConnectorError("The identity provider's ID token is malformed.")
        alg = header.get("alg")
        if alg not in ALLOWED_ALGS:
            self._log.warning("refused upstream ID token with alg %r", alg)
            raise ConnectorError("The identity provider's ID token uses a refused algorithm.")
        kid = header.get("kid")
        payload = self._payload(raw, kid if isinstance(kid, str) else None, str(alg))
        try:
            claims = json.loads(payload)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise ConnectorError("The identity provider's ID token has no claims object.")
        self._check_claims(claims, client_id=client_id, nonce=nonce)
        return claims

    def _check_claims(self, claims: dict[str, Any], *, client_id: str, nonce: str | None) -> None:
        def refuse(reason: str) -> ConnectorError:
            self._log.warning("refused upstream ID token: %s", reason)
            return ConnectorError(f"The identity provider's ID token is invalid: {reason}.")

        if claims.get("iss") != self.issuer:
            raise refuse("wrong issuer")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise refuse("no subject")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if client_id not in audiences:
            raise refuse("wrong audience")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != client_id:
            raise refuse("wrong authorized party")
        now = self._wall_clock()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_number(exp) or now >= exp + LEEWAY:
            raise refuse("expired")
        if not _is_number(iat) or iat > now + LEEWAY:
            raise refuse("issued in the future")
        if nbf is not None and (not _is_number(nbf) or nbf > now + LEEWAY):
            raise refuse("not yet valid")
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not hmac.compare_digest(got, nonce):
                raise refuse("nonce mismatch")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.http.close()


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
