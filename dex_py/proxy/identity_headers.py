"""The identity headers the auth proxy sets, with oauth2-proxy's names and meaning.

Forward auth (``/oauth2/auth``) answers with ``X-Auth-Request-*`` headers, which the front
proxy copies onto the request it sends on (nginx ``auth_request_set``, Caddy ``copy_headers``).
Upstream mode sends ``X-Forwarded-*`` (oauth2-proxy's ``--pass-user-headers``) and the
``X-Auth-Request-*`` set too. Groups are joined with ``,``, as oauth2-proxy does.

Every header named like one of these that arrives from the client is removed before the
request goes on (``strip_identity_headers``): an upstream must never trust a name the user
chose. A value with a control character (CR, LF, NUL, ...) cannot come from a well-behaved
provider and would split or corrupt the header block: ``UnsafeHeaderValue`` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

USER = "X-Auth-Request-User"
EMAIL = "X-Auth-Request-Email"
GROUPS = "X-Auth-Request-Groups"
PREFERRED_USERNAME = "X-Auth-Request-Preferred-Username"
ACCESS_TOKEN = "X-Auth-Request-Access-Token"
AUTHORIZATION = "Authorization"

FORWARDED_USER = "X-Forwarded-User"
FORWARDED_EMAIL = "X-Forwarded-Email"
FORWARDED_GROUPS = "X-Forwarded-Groups"
FORWARDED_PREFERRED_USERNAME = "X-Forwarded-Preferred-Username"
FORWARDED_ACCESS_TOKEN = "X-Forwarded-Access-Token"

# Every name the proxy may set, lower-cased; Authorization is stripped only when the proxy sets
# it (set_authorization), since an API client's own bearer token may be what authenticates it.
IDENTITY_HEADER_NAMES: frozenset[str] = frozenset(
    name.lower()
    for name in (
        USER,
        EMAIL,
        GROUPS,
        PREFERRED_USERNAME,
        ACCESS_TOKEN,
        FORWARDED_USER,
        FORWARDED_EMAIL,
        FORWARDED_GROUPS,
        FORWARDED_PREFERRED_USERNAME,
        FORWARDED_ACCESS_TOKEN,
        "Gap-Auth",  # oauth2-proxy's legacy user header
    )
)


class UnsafeHeaderValue(ValueError):
    """A claim value that cannot be put in an HTTP header as it is."""


@dataclass(frozen=True)
class Identity:
    """Who the request is from, as the proxy tells the app."""

    user: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    preferred_username: str | None = None
    access_token: str | None = None
    id_token: str | None = None


@dataclass(frozen=True)
class HeaderOptions:
    """Which of the optional headers to set (oauth2-proxy's ``--pass-access-token`` and
    ``--set-authorization-header``)."""

    pass_access_token: bool = False
    set_authorization: bool = False


def _checked(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise UnsafeHeaderValue("an identity value holds a control character")
    return value


def _common(identity: Identity, names: tuple[str, str, str, str]) -> dict[str, str]:
    user, email, groups, preferred = names
    out = {user: _checked(identity.user)}
    if identity.email:
        out[email] = _checked(identity.email)
    if identity.groups:
        out[groups] = _checked(",".join(identity.groups))
    if identity.preferred_username:
        out[preferred] = _checked(identity.preferred_username)
    return out


def forward_auth_headers(identity: Identity, options: HeaderOptions) -> dict[str, str]:
    """The headers of ``/oauth2/auth``'s 202 answer."""
    out = _common(identity, (USER, EMAIL, GROUPS, PREFERRED_USERNAME))
    if options.pass_access_token and identity.access_token:
        out[ACCESS_TOKEN] = _checked(identity.access_token)
    if options.set_authorization and identity.id_token:
        out[AUTHORIZATION] = "Bearer " + _checked(identity.id_token)
    return out


def upstream_headers(identity: Identity, options: HeaderOptions) -> dict[str, str]:
    """The headers upstream mode adds to a request it passes on: ``X-Forwarded-*`` and the
    forward-auth set."""
    out = _common(
        identity,
        (FORWARDED_USER, FORWARDED_EMAIL, FORWARDED_GROUPS, FORWARDED_PREFERRED_USERNAME),
    )
    if options.pass_access_token and identity.access_token:
        out[FORWARDED_ACCESS_TOKEN] = _checked(identity.access_token)
    return out | forward_auth_headers(identity, options)


def is_identity_header(name: str, options: HeaderOptions) -> bool:
    """Whether a header of this name from the client must be dropped."""
    lowered = name.lower()
    if lowered in IDENTITY_HEADER_NAMES:
        return True
    return options.set_authorization and lowered == AUTHORIZATION.lower()


def strip_identity_headers(
    headers: Iterable[tuple[str, str]], options: HeaderOptions
) -> list[tuple[str, str]]:
    """``headers`` (name, value pairs, repeats kept) without any identity header."""
    return [(k, v) for k, v in headers if not is_identity_header(k, options)]


def with_identity(
    headers: Iterable[tuple[str, str]], identity: Mapping[str, str], options: HeaderOptions
) -> list[tuple[str, str]]:
    """The client's headers stripped of identity headers, then ``identity`` added."""
    return [*strip_identity_headers(headers, options), *identity.items()]
