"""The typed config of the LDAP connector (Dex's ``type: ldap`` schema) and its validation.

Every key keeps Dex's name and meaning; see ``docs/connectors/ldap.md``. ``LDAPConfig.validate``
reports all cross-field problems with their key paths; the helpers below turn the parsed config
into what the connector needs (host and port, the username attributes, the group matchers).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ldap3.core.exceptions import LDAPException
from ldap3.operation.search import parse_filter

from connectors.base import key

__all__ = ["DN_ATTR", "GroupSearch", "LDAPConfig", "UserMatcher", "UserSearch"]

DN_ATTR = "DN"
"""The pseudo attribute that stands for an entry's distinguished name (as in Dex)."""

_SCOPES = ("", "sub", "one")


def _filter_error(value: str) -> str | None:
    """Why ``value`` is not a valid RFC 4515 filter, or None if it is (empty is allowed)."""
    if not value:
        return None
    try:
        parse_filter(value, None, True, True, None, False)
    except LDAPException:
        return "is not a valid LDAP filter (RFC 4515), e.g. (objectClass=person)"
    return None


@dataclass(frozen=True, kw_only=True)
class UserMatcher:
    """A user is a member of a group when the group's ``groupAttr`` holds one of the values of
    the user's ``userAttr`` (``DN`` means the user's DN). With ``recursionGroupAttr``, a group
    found this way is itself looked up as a member of parent groups: a parent is a group whose
    ``recursionGroupAttr`` holds the child group's DN."""

    user_attr: str = key("userAttr")
    group_attr: str = key("groupAttr")
    recursion_group_attr: str = key("recursionGroupAttr", default="")


@dataclass(frozen=True, kw_only=True)
class UserSearch:
    """How a login name becomes a directory entry, and which attributes fill the identity."""

    base_dn: str = key("baseDN")
    filter: str = key("filter", default="")
    # One attribute name, or a list of them (any may match the login name).
    username: Any = key("username")  # noqa: RUF009 - key() wraps field()
    scope: str = key("scope", default="sub")
    id_attr: str = key("idAttr", default="uid")
    email_attr: str = key("emailAttr", default="mail")
    name_attr: str = key("nameAttr", default="cn")
    preferred_username_attr: str = key("preferredUsernameAttr", default="")
    email_suffix: str = key("emailSuffix", default="")

    @property
    def username_attrs(self) -> tuple[str, ...]:
        if isinstance(self.username, str):
            return (self.username,)
        return tuple(self.username)

    def validate(self, prefix: str) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if not self.base_dn:
            errors.append((f"{prefix}.baseDN", "must not be empty"))
        u = self.username
        if isinstance(u, str):
            if not u:
                errors.append((f"{prefix}.username", "must not be empty"))
        elif isinstance(u, list):
            if not u:
                errors.append((f"{prefix}.username", "must list at least one attribute"))
            for i, item in enumerate(u):
                if not isinstance(item, str) or not item:
                    errors.append((f"{prefix}.username[{i}]", "must be an attribute name"))
        else:
            errors.append((f"{prefix}.username", "must be an attribute name or a list of them"))
        if self.scope not in _SCOPES:
            errors.append((f"{prefix}.scope", "must be 'sub' or 'one'"))
        if not self.id_attr:
            errors.append((f"{prefix}.idAttr", "must not be empty"))
        if not self.email_attr and not self.email_suffix:
            errors.append((f"{prefix}.emailAttr", "must not be empty unless emailSuffix is set"))
        if problem := _filter_error(self.filter):
            errors.append((f"{prefix}.filter", problem))
        return errors


@dataclass(frozen=True, kw_only=True)
class GroupSearch:
    """How a user's groups are found. No ``baseDN`` means no group search at all."""

    base_dn: str = key("baseDN", default="")
    filter: str = key("filter", default="")
    scope: str = key("scope", default="sub")
    name_attr: str = key("nameAttr", default="cn")
    user_matchers: list[UserMatcher] = key("userMatchers", default_factory=list)  # noqa: RUF009
    # Dex's older single-matcher form.
    user_attr: str = key("userAttr", default="")
    group_attr: str = key("groupAttr", default="")

    @property
    def matchers(self) -> tuple[UserMatcher, ...]:
        """The configured matchers, the older ``userAttr``/``groupAttr`` form included."""
        found = list(self.user_matchers)
        if self.user_attr and self.group_attr:
            found.append(UserMatcher(user_attr=self.user_attr, group_attr=self.group_attr))
        return tuple(found)

    def validate(self, prefix: str) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if bool(self.user_attr) != bool(self.group_attr):
            errors.append((f"{prefix}.userAttr", "userAttr and groupAttr must be set together"))
        for i, m in enumerate(self.user_matchers):
            if m is None:  # a non-mapping item; parse_config already reported it
                continue
            if not m.user_attr:
                errors.append((f"{prefix}.userMatchers[{i}].userAttr", "must not be empty"))
            if not m.group_attr:
                errors.append((f"{prefix}.userMatchers[{i}].groupAttr", "must not be empty"))
        if self.scope not in _SCOPES:
            errors.append((f"{prefix}.scope", "must be 'sub' or 'one'"))
        if problem := _filter_error(self.filter):
            errors.append((f"{prefix}.filter", problem))
        if self.base_dn:
            if not self.name_attr:
                errors.append((f"{prefix}.nameAttr", "must not be empty"))
            if not self.matchers:
                errors.append(
                    (f"{prefix}.userMatchers", "must list at least one matcher when baseDN is set")
                )
        return errors


def _split_host(host: str) -> tuple[str, str | None]:
    """``host[:port]`` or ``[v6]:port`` into (host, port text or None)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, (rest[1:] if rest.startswith(":") else None)
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None


@dataclass(frozen=True, kw_only=True)
class LDAPConfig:
    """Log in with a username and password checked against an LDAP directory.

    Example::

        connectors:
        - type: ldap
          id: ldap
          name: OpenLDAP
          config:
            host: ldap.example.org:636
            rootCA: /etc/dex/ldap-ca.pem
            bindDN: cn=idp-service,ou=Services,dc=example,dc=org
            bindPW: $LDAP_BIND_PW
            usernamePrompt: Username
            userSearch:
              baseDN: ou=People,dc=example,dc=org
              filter: (objectClass=inetOrgPerson)
              username: [uid, mail]
              idAttr: uid
              emailAttr: mail
              nameAttr: cn
              preferredUsernameAttr: uid
            groupSearch:
              baseDN: ou=Groups,dc=example,dc=org
              filter: (objectClass=groupOfNames)
              userMatchers:
              - userAttr: DN
                groupAttr: member
                recursionGroupAttr: member
              nameAttr: cn
    """

    host: str = key("host")
    insecure_no_ssl: bool = key("insecureNoSSL", default=False)
    start_tls: bool = key("startTLS", default=False)
    insecure_skip_verify: bool = key("insecureSkipVerify", default=False)
    root_ca: str = key("rootCA", default="")
    root_ca_data: str = key("rootCAData", default="")  # base64 of PEM (raw PEM accepted too)
    client_cert: str = key("clientCert", default="")
    client_key: str = key("clientKey", default="")
    bind_dn: str = key("bindDN", default="")
    bind_pw: str = key("bindPW", default="")
    username_prompt: str = key("usernamePrompt", default="Username")
    user_search: UserSearch = key("userSearch")  # noqa: RUF009
    group_search: GroupSearch = key("groupSearch", default_factory=GroupSearch)  # noqa: RUF009

    def validate(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if not self.host:
            errors.append(("host", "must not be empty"))
        else:
            name, port = _split_host(self.host)
            if not name:
                errors.append(("host", "must name a host, e.g. ldap.example.org:636"))
            if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
                errors.append(("host", "port must be a number from 1 to 65535"))
        if self.bind_pw and not self.bind_dn:
            errors.append(("bindDN", "must be set when bindPW is set"))
        if bool(self.client_cert) != bool(self.client_key):
            errors.append(("clientCert", "clientCert and clientKey must be set together"))
        if self.root_ca_data and self.ca_data() is None:
            errors.append(("rootCAData", "must be base64 of a PEM certificate"))
        if self.user_search is not None:
            errors.extend(self.user_search.validate("userSearch"))
        if self.group_search is not None:
            errors.extend(self.group_search.validate("groupSearch"))
        return errors

    @property
    def use_ldaps(self) -> bool:
        """TLS from the first byte (ldaps://): neither insecureNoSSL nor startTLS is set."""
        return not self.insecure_no_ssl and not self.start_tls

    @property
    def use_start_tls(self) -> bool:
        """insecureNoSSL wins over startTLS, as in Dex."""
        return self.start_tls and not self.insecure_no_ssl

    def address(self) -> tuple[str, int]:
        """Host name and port; the port defaults to 389 (plain/StartTLS) or 636 (ldaps)."""
        name, port = _split_host(self.host)
        if port:
            return name, int(port)
        return name, (636 if self.use_ldaps else 389)

    def ca_data(self) -> str | None:
        """The PEM text of ``rootCAData`` (None if it is not base64 of a PEM)."""
        raw = self.root_ca_data.strip()
        if not raw:
            return None
        if "-----BEGIN" in raw:
            return raw
        try:
            text = base64.b64decode(raw, validate=False).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return text if "-----BEGIN CERTIFICATE-----" in text else None
