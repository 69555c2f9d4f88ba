"""Token primitives: Dex-compatible ``sub``, at_hash/c_hash, compact JWS signing and verification.

- ``encode_sub``/``decode_sub``: Dex's subject, base64url (no padding) of the protobuf wire
  encoding of ``message IDTokenSubject {string user_id = 1; string conn_id = 2;}``, so RBAC
  bindings made against Dex tokens keep working.
- ``half_hash``: OIDC Core §3.1.3.6 / §3.3.2.11 ``at_hash`` and ``c_hash``.
- ``sign``/``verify``: compact JWS (RFC 7515 §7.1) JWTs (RFC 7519) with our published keys only.
  Verification follows RFC 8725: the algorithm comes from our key, never from the token; ``none``
  and HMAC are refused; an unknown ``kid`` is refused; every malformed input raises
  ``InvalidTokenError`` and nothing else.

Signing and verification use the key objects cached by ``dex_py.jose.keys.KeyManager`` (see its
docstring for the measured cost versus plain joserfc).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dex_py.clock import Clock
    from dex_py.jose.keys import KeyManager

MAX_TOKEN_LENGTH = 16 * 1024
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_HALF_HASH = {
    "RS256": hashlib.sha256,
    "ES256": hashlib.sha256,
    "PS256": hashlib.sha256,
    "RS384": hashlib.sha384,
    "ES384": hashlib.sha384,
    "PS384": hashlib.sha384,
    "RS512": hashlib.sha512,
    "ES512": hashlib.sha512,
    "PS512": hashlib.sha512,
}


class InvalidTokenError(Exception):
    """The token is not acceptable; ``reason`` is short and safe to log or return."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- helpers --------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_bytes(text: str) -> bytes:
    # ``text`` is known to hold only base64url characters; binascii.Error is a ValueError.
    padded = (text + "=" * (-len(text) % 4)).encode("ascii")
    return binascii.a2b_base64(padded.translate(_URL_TO_STD))


def b64url_decode(text: str) -> bytes:
    """Strict inverse of ``b64url_encode``: ``ValueError`` on any other character or length."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return _b64url_bytes(text)


def new_token_id(nbytes: int = 24) -> str:
    """A random URL-safe identifier with ``nbytes`` bytes of entropy (jti, codes, ids)."""
    return secrets.token_urlsafe(nbytes)


def half_hash(value: str, alg: str) -> str:
    """OIDC ``at_hash``/``c_hash``: base64url of the left half of the hash that ``alg`` uses."""
    try:
        digest = _HALF_HASH[alg](value.encode("utf-8")).digest()
    except KeyError:
        raise ValueError(f"no half hash defined for alg {alg!r}") from None
    return b64url_encode(digest[: len(digest) // 2])


# -- Dex subject ----------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, value: str) -> bytes:
    data = value.encode("utf-8")
    return bytes([(number << 3) | 2]) + _varint(len(data)) + data


def encode_sub(user_id: str, connector_id: str) -> str:
    """Dex's ``sub`` for a user of a connector (proto3: empty fields are omitted)."""
    wire = b""
    if user_id:
        wire += _field(1, user_id)
    if connector_id:
        wire += _field(2, connector_id)
    return b64url_encode(wire)


def decode_sub(sub: str) -> tuple[str, str]:
    """``(user_id, connector_id)`` from a Dex ``sub``; ``ValueError`` if it is not one."""
    data = b64url_decode(sub)
    fields = {1: "", 2: ""}
    pos = 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag not in (0x0A, 0x12):
            raise ValueError("not a Dex subject: unexpected field")
        length = shift = 0
        while True:
            if pos >= len(data) or shift > 28:
                raise ValueError("not a Dex subject: bad length")
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if pos + length > len(data):
            raise ValueError("not a Dex subject: truncated")
        try:
            fields[tag >> 3] = data[pos : pos + length].decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not a Dex subject: invalid UTF-8") from None
        pos += length
    return fields[1], fields[2]


# -- JWS ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-finite number {name}")


# Built once: json.loads/json.dumps with keyword arguments build a new coder per call (~1-2 µs).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _json_object(segment: str) -> dict[str, Any]:
    """The JSON object in a base64url segment already known to hold only base64url characters
    (RFC 7519 §7.2: UTF-8, no NaN/Infinity)."""
    try:
        value = _DECODER.decode(_b64url_bytes(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidTokenError("malformed") from None
    if not isinstance(value, dict):
        raise InvalidTokenError("malformed")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sign(keys: KeyManager, claims: Mapping[str, Any], *, typ: str | None = None) -> str:
    """A compact JWS over ``claims`` with the current key; header ``{alg, kid[, typ]}``."""
    signer = keys.signer()
    payload = _ENCODER.encode(claims).encode("utf-8")
    signing_input = signer.header_segment(typ) + "." + b64url_encode(payload)
    return signing_input + "." + b64url_encode(signer.sign_bytes(signing_input.encode("ascii")))


def verify(
    keys: KeyManager,
    token: str,
    *,
    issuer: str,
    audience: str | None,
    clock: Clock,
    leeway: int = 0,
    require_exp: bool = True,
    typ: str | None = None,
    allow_expired: bool = False,
) -> dict[str, Any]:
    """The claims of ``token`` if we signed it and it is valid now, else ``InvalidTokenError``.

    ``audience=None`` skips the audience check (the caller checks it); ``typ`` if given must
    equal the header's ``typ``; ``allow_expired`` accepts a past ``exp`` (for ``id_token_hint``,
    which OIDC Core §3.1.2.1 allows to be expired)."""
    if not isinstance(token, str):
        raise InvalidTokenError("malformed")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("too large")
    if not _COMPACT.fullmatch(token):
        raise InvalidTokenError("malformed")
    header_seg, payload_seg, sig_seg = token.split(".")
    header = _json_object(header_seg)
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in ("RS256", "ES256"):
        raise InvalidTokenError("unsupported alg")
    if "crit" in header:
        raise InvalidTokenError("unsupported critical header")
    if not isinstance(kid, str):
        raise InvalidTokenError("missing kid")
    key = keys.public_key(kid)
    if key is None:
        raise InvalidTokenError("unknown kid")
    if key.alg != alg:
        raise InvalidTokenError("alg mismatch")
    if typ is not None and header.get("typ") != typ:
        raise InvalidTokenError("wrong typ")
    try:
        signature = _b64url_bytes(sig_seg)
    except ValueError:
        raise InvalidTokenError("malformed") from None
    if b64url_encode(signature) != sig_seg:
        raise InvalidTokenError("malformed")  # non-canonical encoding of the same signature
    signing_input = token[: len(header_seg) + 1 + len(payload_seg)].encode("ascii")
    if not key.verify(signing_input, signature):
        raise InvalidTokenError("bad signature")
    claims = _json_object(payload_seg)
    _check_claims(
        claims, issuer, audience, clock.now().timestamp(), leeway, require_exp, allow_expired
    )
    return claims


def _check_claims(
    claims: dict[str, Any],
    issuer: str,
    audience: str | None,
    now: float,
    leeway: int,
    require_exp: bool,
    allow_expired: bool = False,
) -> None:
    if claims.get("iss") != issuer:
        raise InvalidTokenError("wrong issuer")
    if audience is not None:
        aud = claims.get("aud")
        if isinstance(aud, list):
            ok = audience in aud and all(isinstance(a, str) for a in aud)
        else:
            ok = isinstance(aud, str) and aud == audience
        if not ok:
            raise InvalidTokenError("wrong audience")
    if "exp" in claims:
        exp = claims["exp"]
        if not _is_number(exp):
            raise InvalidTokenError("malformed exp")
        if now >= exp + leeway and not allow_expired:
            raise InvalidTokenError("expired")
    elif require_exp:
        raise InvalidTokenError("missing exp")
    if "nbf" in claims:
        nbf = claims["nbf"]
        if not _is_number(nbf):
            raise InvalidTokenError("malformed nbf")
        if nbf > now + leeway:
            raise InvalidTokenError("not yet valid")
    if "iat" in claims:
        iat = claims["iat"]
        if not _is_number(iat):
            raise InvalidTokenError("malformed iat")
        if iat > now + leeway:
            raise InvalidTokenError("issued in the future")
