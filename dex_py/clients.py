"""OAuth2 clients: lookup, authentication (RFC 6749 §2.3) and redirect URI rules.

Config-defined clients are a read-only overlay held in memory (``storage.static``), so looking
one up costs no database round trip on the hot path; clients created at run time come from
storage. Secrets are compared as SHA-256 digests in constant time: they are
high-entropy random strings, so a password KDF would only cost throughput (DESIGN §8). After a
rotation the replaced secret is accepted too until ``previous_secret_expiry`` (both digests are
compared every time, so the answer's timing does not tell which one matched). Clients
registered with ``private_key_jwt`` authenticate with a signed assertion instead
(``dex_py.jose.client_assertions``).

Redirect URIs match exactly (RFC 9700 §2.1), except that public clients may use any port on a
loopback address (RFC 8252 §7.3) and the out-of-band URI ``urn:ietf:wg:oauth:2.0:oob``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote, urlsplit

from dex_py.clock import Clock
from dex_py.config import StaticClient
from dex_py.errors import InvalidClient, InvalidRequest
from dex_py.jose.client_assertions import (
    ASSERTION_TYPE,
    PRIVATE_KEY_JWT,
    ClientAssertionVerifier,
    unverified_subject,
)
from dex_py.storage.base import Client, NotFoundError, Storage

OOB_URI = "urn:ietf:wg:oauth:2.0:oob"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def secret_digest(secret: str) -> str:
    """SHA-256 hex digest under which a client secret is kept."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def client_from_config(c: StaticClient) -> Client:
    return Client(
        id=c.id,
        secret_hash=secret_digest(c.secret) if c.secret else "",
        redirect_uris=tuple(c.redirect_uris),
        trusted_peers=tuple(c.trusted_peers),
        public=c.public,
        name=c.name,
        logo_url=c.logo_url,
        allowed_connectors=tuple(c.allowed_connectors),
        allowed_groups=tuple(c.allowed_groups),
        grant_types=tuple(c.grant_types),
        post_logout_redirect_uris=tuple(c.post_logout_redirect_uris),
        backchannel_logout_uri=c.backchannel_logout_uri,
        token_endpoint_auth_method=c.token_endpoint_auth_method,
        jwks=json.dumps(c.jwks, separators=(",", ":")) if c.jwks else "",
        jwks_uri=c.jwks_uri,
        skip_approval=c.skip_approval,
    )


class ClientStore:
    """Finds clients by id (``None`` when unknown). ``assertions`` verifies ``private_key_jwt``
    client assertions; without it that method is refused. ``clock`` tells whether a rotated-out
    secret is still in its grace period."""

    def __init__(
        self,
        storage: Storage,
        assertions: ClientAssertionVerifier | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._storage = storage
        self.assertions = assertions
        self.clock = clock or Clock()

    def get(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 255:
            return None
        try:
            return self._storage.get_client(client_id)
        except NotFoundError:
            return None


_NO_DIGEST = "0" * 64  # compared against when a client has no previous secret: same work


def check_secret(client: Client, secret: str, now: datetime | None = None) -> bool:
    """Constant-time comparison of a presented secret with the stored digest and, when ``now``
    is given and before ``previous_secret_expiry``, with the digest of the secret a rotation
    replaced. Both comparisons always run."""
    digest = secret_digest(secret)
    current = hmac.compare_digest(digest, client.secret_hash or _NO_DIGEST)
    previous = hmac.compare_digest(digest, client.previous_secret_hash or _NO_DIGEST)
    in_grace = (
        now is not None
        and client.previous_secret_expiry is not None
        and now < client.previous_secret_expiry
    )
    return (bool(client.secret_hash) and current) or (
        bool(client.previous_secret_hash) and previous and in_grace
    )


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding.
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def claimed_client_id(authorization: str, form: Mapping[str, str]) -> str:
    """The client id a request claims (Basic user name, else ``client_id``), before anything is
    checked; "" when it names none or the header is malformed (for counting failures only)."""
    try:
        basic = _basic_credentials(authorization)
    except InvalidClient:
        return ""
    return (basic[0] if basic else form.get("client_id", ""))[:256]


def authenticate_client(
    clients: ClientStore, authorization: str, form: Mapping[str, str]
) -> tuple[Client, str]:
    """Authenticate the caller of a token-endpoint-style request.

    ``authorization`` is the request's ``Authorization`` header ("" when absent). Returns the
    client and the method used (``client_secret_basic``, ``client_secret_post``,
    ``private_key_jwt`` or ``none``). Using two methods at once is ``invalid_request`` (RFC 6749
    §2.3); every failure is ``invalid_client`` without saying which part was wrong. A client
    whose ``token_endpoint_auth_method`` is set may only use that method (OIDC Dynamic Client
    Registration §2), so a ``private_key_jwt`` client cannot fall back to a secret and a secret
    client cannot switch to an assertion.
    """
    basic = _basic_credentials(authorization)
    post_id = form.get("client_id", "")
    post_secret = form.get("client_secret", "")
    if "client_assertion" in form or "client_assertion_type" in form:
        if basic or post_secret:
            raise InvalidRequest("use only one client authentication method")
        return _authenticate_assertion(clients, form), PRIVATE_KEY_JWT
    if basic and post_secret:
        raise InvalidRequest("use only one client authentication method")
    if basic:
        client_id, secret = basic
        if post_id and post_id != client_id:
            raise InvalidRequest("client_id does not match the authenticated client")
        method = "client_secret_basic"
    elif post_secret:
        client_id, secret, method = post_id, post_secret, "client_secret_post"
    else:
        client_id, secret, method = post_id, "", "none"
    if not client_id:
        raise InvalidClient("client authentication required")
    client = clients.get(client_id)
    if client is None:
        raise InvalidClient("invalid client credentials")
    _check_method(client, method)
    if method == "none":
        if not client.public:
            raise InvalidClient("client authentication required")
        return client, method
    if client.public and not client.secret_hash:
        # Dex lets public clients send an empty or any secret; we accept only none.
        raise InvalidClient("public clients do not authenticate with a secret")
    if not check_secret(client, secret, clients.clock.now()):
        raise InvalidClient("invalid client credentials")
    return client, method


def _check_method(client: Client, method: str) -> None:
    registered = client.token_endpoint_auth_method
    if registered and registered != method:
        raise InvalidClient(f"this client must authenticate with {registered}")


def _authenticate_assertion(clients: ClientStore, form: Mapping[str, str]) -> Client:
    """RFC 7521 §4.2: ``client_assertion_type`` + ``client_assertion``; ``client_id`` optional
    but, when sent, must name the client the assertion is about."""
    if form.get("client_assertion_type", "") != ASSERTION_TYPE:
        raise InvalidClient("unsupported client_assertion_type")
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise InvalidClient("client_assertion is required")
    client_id = unverified_subject(assertion)
    post_id = form.get("client_id", "")
    if post_id and post_id != client_id:
        raise InvalidClient("client_id does not match the client assertion")
    client = clients.get(client_id)
    if client is None or clients.assertions is None:
        raise InvalidClient("invalid client credentials")
    if client.token_endpoint_auth_method != PRIVATE_KEY_JWT:
        raise InvalidClient("this client does not authenticate with private_key_jwt")
    clients.assertions.verify(client, assertion)
    return client


def _is_loopback_redirect(uri: str) -> bool:
    """``http://`` to a loopback host with, at most, a valid numeric port. The netloc must be
    exactly host[:port], so ``127.0.0.1:5555.evil.example`` or ``127.0.0.1:0x50`` never pass."""
    try:
        parts = urlsplit(uri)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or parts.username is not None or parts.password is not None:
        return False
    if not (host in _LOOPBACK_HOSTS or f"[{host}]" in _LOOPBACK_HOSTS):
        return False
    if port is not None and not 1 <= port <= 65535:
        return False
    expected = f"[{host}]" if ":" in host else host
    return parts.netloc.lower() in (expected, f"{expected}:{port}")


def _without_port(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=netloc).geturl()


def redirect_uri_allowed(client: Client, uri: str) -> bool:
    """Is ``uri`` a redirect URI this client may use? Exact string match, plus RFC 8252
    loopback (any port) and out-of-band for public clients."""
    if not uri:
        return False
    if uri in client.redirect_uris:
        return True
    if not client.public:
        return False
    if uri == OOB_URI:
        return True
    if not _is_loopback_redirect(uri):
        return False
    if not client.redirect_uris:
        return True
    # A registered loopback URI matches on any port (RFC 8252 §7.3).
    target = _without_port(uri)
    return any(
        _is_loopback_redirect(r) and _without_port(r) == target for r in client.redirect_uris
    )
