"""What a client created or changed at run time must satisfy, checked all at once so the admin
sees every problem of a form in one answer (``Invalid`` with ``(field, message)`` pairs).

The rules: an id of URL-safe characters (RFC 3986 §2.3, no ``:`` so it fits HTTP Basic
credentials, RFC 6749 §2.3.1); redirect URIs absolute without a fragment (RFC 6749 §3.1.2),
and for public clients https, http on a loopback host or a private-use scheme (RFC 8252 §7.1,
§7.3, §8.4); no script-capable scheme anywhere; known grant types; a token endpoint auth
method that fits the client kind (OIDC Dynamic Client Registration §2), with public keys for
``private_key_jwt``; a back-channel logout URI over https (http only on a loopback host,
OIDC Back-Channel Logout 1.0 §2.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from dex_py.config.model import GRANT_TYPES
from dex_py.config.validation import CLIENT_AUTH_METHODS, is_loopback_host
from dex_py.jose.client_assertions import PRIVATE_KEY_JWT, parse_jwks
from dex_py.management.errors import Invalid

CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
MAX_ITEMS = 100  # per list field
MAX_TEXT = 2000  # characters of one URI or name
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Schemes a browser would run or read locally instead of navigating to an application.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


@dataclass(frozen=True)
class ClientSpec:
    """What an admin sets on a client (everything but its secret). ``id`` empty on create: the
    server picks one."""

    id: str = ""
    name: str = ""
    public: bool = False
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    trusted_peers: tuple[str, ...] = ()
    logo_url: str = ""
    allowed_connectors: tuple[str, ...] = ()
    allowed_groups: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    token_endpoint_auth_method: str = ""
    jwks: str = ""  # a JWK Set (public keys) as JSON text, for private_key_jwt
    jwks_uri: str = ""
    backchannel_logout_uri: str = ""
    skip_approval: bool = False


SPEC_FIELDS = tuple(f.name for f in fields(ClientSpec))
_LISTS = frozenset(f.name for f in fields(ClientSpec) if str(f.type).startswith("tuple"))
_FLAGS = frozenset(f.name for f in fields(ClientSpec) if f.type == "bool")


def with_changes(spec: ClientSpec, changes: Mapping[str, Any]) -> ClientSpec:
    """``spec`` with ``changes`` (field name to value; lists may be lists or tuples) applied;
    unknown fields and values of the wrong type are ``Invalid``, all reported at once."""
    problems: list[tuple[str, str]] = []
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in SPEC_FIELDS:
            problems.append((name, "unknown field"))
        elif name in _LISTS:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                problems.append((name, "must be a list of strings"))
            else:
                clean[name] = tuple(value)
        elif name in _FLAGS:
            if not isinstance(value, bool):
                problems.append((name, "must be true or false"))
            else:
                clean[name] = value
        elif not isinstance(value, str):
            problems.append((name, "must be a string"))
        else:
            clean[name] = value.strip()
    if problems:
        raise Invalid(problems)
    return replace(spec, **clean)


def check_client_spec(spec: ClientSpec) -> None:
    """Raise ``Invalid`` listing every problem of ``spec`` (its id must be set)."""
    problems: list[tuple[str, str]] = []

    def bad(field: str, message: str) -> None:
        problems.append((field, message))

    if not CLIENT_ID.fullmatch(spec.id):
        bad("id", "1 to 128 letters, digits and . _ ~ - (starting with a letter or digit)")
    _check_text("name", spec.name, bad)
    for name in _LISTS:
        values = getattr(spec, name)
        if len(values) > MAX_ITEMS:
            bad(name, f"at most {MAX_ITEMS} entries")
        if len(set(values)) != len(values):
            bad(name, "has duplicates")
    for i, uri in enumerate(spec.redirect_uris):
        _check_redirect(f"redirect_uris[{i}]", uri, spec.public, bad)
    for i, uri in enumerate(spec.post_logout_redirect_uris):
        _check_uri(f"post_logout_redirect_uris[{i}]", uri, bad)
    for i, peer in enumerate(spec.trusted_peers):
        if not CLIENT_ID.fullmatch(peer):
            bad(f"trusted_peers[{i}]", f"{peer!r} is not a client id")
    for name in ("allowed_connectors", "allowed_groups"):
        for i, value in enumerate(getattr(spec, name)):
            if not value.strip():
                bad(f"{name}[{i}]", "must not be empty")
            _check_text(f"{name}[{i}]", value, bad)
    for i, grant in enumerate(spec.grant_types):
        if grant not in GRANT_TYPES:
            bad(f"grant_types[{i}]", f"unknown grant type {grant!r} ({', '.join(GRANT_TYPES)})")
    if spec.logo_url:
        _check_web_uri("logo_url", spec.logo_url, bad, https_only=False)
    if spec.backchannel_logout_uri:
        _check_web_uri("backchannel_logout_uri", spec.backchannel_logout_uri, bad)
    _check_auth_method(spec, bad)
    if problems:
        raise Invalid(problems)


def _check_text(field: str, value: str, bad: Any) -> None:
    if len(value) > MAX_TEXT:
        bad(field, f"at most {MAX_TEXT} characters")
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        bad(field, "must not contain control characters")


def _check_uri(field: str, uri: str, bad: Any) -> bool:
    """An absolute URI without fragment and with a harmless scheme; False if not."""
    parts = urlsplit(uri)
    if len(uri) > MAX_TEXT:
        bad(field, f"at most {MAX_TEXT} characters")
    elif not _SCHEME.fullmatch(parts.scheme) or any(c.isspace() or ord(c) < 32 for c in uri):
        bad(field, f"{uri!r} is not an absolute URI")
    elif parts.scheme.lower() in _FORBIDDEN_SCHEMES:
        bad(field, f"the scheme {parts.scheme!r} is not allowed")
    elif parts.scheme.lower() in ("http", "https") and not parts.hostname:
        bad(field, f"{uri!r} has no host")
    elif "#" in uri:
        bad(field, "must not have a fragment")
    else:
        return True
    return False


def unsafe_uri_problems(field: str, uris: Iterable[str]) -> list[tuple[str, str]]:
    """``(field[i], message)`` for each of ``uris`` with a script-capable scheme
    (``javascript:``, ``data:``, ...; as browsers read it, past tabs and line breaks) or any
    whitespace or control character: the least any way of registering a client must refuse
    (Dex's gRPC API, which otherwise keeps Dex's looser rules, checks only this)."""
    problems: list[tuple[str, str]] = []
    for i, uri in enumerate(uris):
        scheme = urlsplit(uri).scheme.lower()
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in uri):
            problems.append((f"{field}[{i}]", "must not contain whitespace or control characters"))
        elif scheme in _FORBIDDEN_SCHEMES:
            problems.append((f"{field}[{i}]", f"the scheme {scheme!r} is not allowed"))
    return problems


def _check_redirect(field: str, uri: str, public: bool, bad: Any) -> None:
    if not _check_uri(field, uri, bad) or not public:
        return
    parts = urlsplit(uri)
    if parts.scheme.lower() == "http" and not is_loopback_host(parts.hostname or ""):
        bad(field, "a public client redirects to https, http on a loopback host or its own scheme")


def _check_web_uri(field: str, uri: str, bad: Any, *, https_only: bool = True) -> None:
    """An http(s) URL; with ``https_only``, http only on a loopback host."""
    if not _check_uri(field, uri, bad):
        return
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        bad(field, "must be an http(s) URL")
    elif https_only and scheme == "http" and not is_loopback_host(parts.hostname or ""):
        bad(field, "must be https (http only on a loopback host)")


def _check_auth_method(spec: ClientSpec, bad: Any) -> None:
    method = spec.token_endpoint_auth_method
    field = "token_endpoint_auth_method"
    if method and method not in CLIENT_AUTH_METHODS:
        bad(field, f"unknown method {method!r} ({', '.join(CLIENT_AUTH_METHODS)})")
    elif spec.public and method not in ("", "none"):
        bad(field, "public clients do not authenticate: use none")
    elif not spec.public and method == "none":
        bad(field, "none is only for public clients")
    if method != PRIVATE_KEY_JWT:
        if spec.jwks or spec.jwks_uri:
            bad("jwks", "only for private_key_jwt clients")
        return
    if bool(spec.jwks) == bool(spec.jwks_uri):
        bad("jwks", "private_key_jwt needs exactly one of jwks and jwks_uri")
    if spec.jwks_uri:
        _check_web_uri("jwks_uri", spec.jwks_uri, bad)
    if spec.jwks:
        _check_jwks(spec.jwks, bad)


def _check_jwks(text: str, bad: Any) -> None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        bad("jwks", "not JSON")
        return
    members = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(members, list):
        bad("jwks", 'not a JWK Set (no "keys" list)')
    elif any(isinstance(m, dict) and _PRIVATE_JWK_MEMBERS & set(m) for m in members):
        bad("jwks", "must hold public keys only (remove the private members)")
    elif not parse_jwks(text):
        bad("jwks", "has no RS256 or ES256 signature key")
