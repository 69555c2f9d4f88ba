"""The LDAP connector (Dex's ``type: ldap``): usernames and passwords checked by a directory.

Login (a ``PasswordConnector``): an empty password is refused before anything is sent (an LDAP
simple bind without a password is an *unauthenticated* bind, RFC 4513 §5.1.2, and would
succeed); the user is searched with the service account (``bindDN``) using
``(&<filter>(<username attr>=<escaped login>))``, OR-ed over several username attributes;
exactly one entry must match; then a fresh connection binds as that entry's DN with the given
password. Groups come from ``groupSearch`` (matchers, optionally following nested groups).

Every value placed into a search filter is escaped (RFC 4515 §3, ``escape_filter_chars``), so a
login name such as ``*`` or ``admin)(|(uid=*`` matches only an entry with that literal name.

Refresh (a ``RefreshConnector``) searches the user again by login name, requires the same DN,
and re-reads attributes and groups; a deleted user makes it fail with ``ConnectorError``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from ldap3 import BASE, LEVEL, SUBTREE, Connection
from ldap3.utils.conv import escape_filter_chars

from connectors.base import (
    ConnectorError,
    Identity,
    PasswordConnector,
    RefreshConnector,
    Scopes,
    UserGone,
    get_logger,
    parse_config,
)
from connectors.ldap_config import DN_ATTR, LDAPConfig, UserMatcher
from connectors.ldap_pool import LDAPPool

__all__ = ["MAX_GROUP_DEPTH", "LDAPConnector"]

MAX_GROUP_DEPTH = 10
"""How many levels of nested groups ``recursionGroupAttr`` follows."""

_RESULT_SUCCESS = 0
_RESULT_SIZE_LIMIT = 4
_RESULT_NO_SUCH_OBJECT = 32
_GONE = "the user no longer exists in the LDAP directory"


@dataclass(frozen=True)
class _Entry:
    """A search result: its DN and its attribute values (names lower-cased, values raw)."""

    dn: str
    attrs: Mapping[str, Sequence[bytes]]

    def values(self, name: str) -> list[str]:
        """Every value of attribute ``name`` as text; ``DN`` (any case) is the entry's DN."""
        if name.lower() == DN_ATTR.lower():
            return [self.dn]
        return [_text(name, raw) for raw in self.attrs.get(name.lower(), ())]

    def first(self, name: str) -> str:
        found = self.values(name) if name else []
        return found[0] if found else ""


def _text(name: str, raw: bytes | str) -> str:
    """An attribute value as text. UTF-8 values are decoded; a binary ``objectGUID`` becomes
    its GUID string (Active Directory's byte order); other binary values become hex."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if name.lower() == "objectguid" and len(raw) == 16:
            return str(uuid.UUID(bytes_le=raw))
        return raw.hex()


def _and(base_filter: str, clause: str) -> str:
    return f"(&{base_filter}{clause})" if base_filter else clause


def _dn_key(dn: str) -> str:
    """A DN for comparison: lower-cased, without spaces around ``,``, ``=`` and ``+``."""
    return re.sub(r"\s*([,=+])\s*", r"\1", dn.strip()).lower()


class LDAPConnector(PasswordConnector, RefreshConnector):
    """Log in against an LDAP directory (OpenLDAP, Active Directory, 389-ds, ...)."""

    Config = LDAPConfig

    def __init__(
        self,
        config: LDAPConfig,
        *,
        connector_id: str = "ldap",
        logger: logging.Logger | None = None,
        connect_timeout: float = 5.0,
        receive_timeout: int = 10,
    ) -> None:
        self.config = config
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        if config.insecure_no_ssl and config.start_tls:
            self._log.warning("insecureNoSSL is set, so startTLS is ignored (as in Dex)")
        self._pool = LDAPPool(
            config,
            logger=self._log,
            connect_timeout=connect_timeout,
            receive_timeout=receive_timeout,
        )
        us = config.user_search
        wanted = [us.id_attr, us.email_attr, us.name_attr, us.preferred_username_attr]
        wanted += list(us.username_attrs)
        wanted += [m.user_attr for m in config.group_search.matchers]
        self._user_attrs = sorted(
            {a for a in wanted if a and a.lower() != DN_ATTR.lower()}, key=str.lower
        )

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        return cls(parse_config(LDAPConfig, config), connector_id=connector_id, logger=logger)

    def close(self) -> None:
        self._pool.close()

    def prompt(self) -> str:
        return self.config.username_prompt or "Username"

    def check(self) -> None:
        """Read the root DSE over a service-bound connection (time-bounded by the timeouts)."""

        def probe(conn: Connection) -> None:
            conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["1.1"])

        self._pool.run(probe)

    # --- searches -----------------------------------------------------------------------------

    def _search(
        self,
        conn: Connection,
        base: str,
        scope: str,
        search_filter: str,
        attributes: list[str],
        size_limit: int = 0,
    ) -> list[_Entry]:
        conn.search(
            base,
            search_filter,
            search_scope=LEVEL if scope == "one" else SUBTREE,
            attributes=attributes or ["1.1"],
            size_limit=size_limit,
        )
        code = (conn.result or {}).get("result")
        if code == _RESULT_NO_SUCH_OBJECT:
            return []
        if code not in (_RESULT_SUCCESS, _RESULT_SIZE_LIMIT):
            self._log.error(
                "LDAP search under %s failed: %s", base, (conn.result or {}).get("description")
            )
            raise ConnectorError("the LDAP directory refused a search")
        entries = []
        for item in conn.response or ():
            if item.get("type") != "searchResEntry":
                continue  # search references (referrals) are not followed
            raw = item.get("raw_attributes") or {}
            attrs = {str(k).lower(): list(v) for k, v in raw.items()}
            entries.append(_Entry(dn=item["dn"], attrs=attrs))
        return entries

    def _user_filter(self, username: str) -> str:
        value = escape_filter_chars(username)
        clauses = [f"({attr}={value})" for attr in self.config.user_search.username_attrs]
        clause = clauses[0] if len(clauses) == 1 else "(|" + "".join(clauses) + ")"
        return _and(self.config.user_search.filter, clause)

    def _find_user(self, conn: Connection, username: str) -> _Entry | None:
        us = self.config.user_search
        found = self._search(
            conn, us.base_dn, us.scope, self._user_filter(username), self._user_attrs, 2
        )
        if len(found) > 1:
            self._log.warning("LDAP user search for %r matched several entries", username)
            return None
        return found[0] if found else None

    def _groups(self, conn: Connection, user: _Entry) -> tuple[str, ...]:
        gs = self.config.group_search
        if not gs.base_dn:
            return ()
        names: list[str] = []
        seen: set[str] = set()
        for matcher in gs.matchers:
            for value in user.values(matcher.user_attr):
                level = self._group_level(conn, matcher.group_attr, value, seen, names)
                self._follow_parents(conn, matcher, level, seen, names)
        return tuple(dict.fromkeys(names))

    def _group_level(
        self, conn: Connection, attr: str, value: str, seen: set[str], names: list[str]
    ) -> list[_Entry]:
        """Groups whose ``attr`` holds ``value``, not seen before; their names go to ``names``."""
        gs = self.config.group_search
        clause = f"({attr}={escape_filter_chars(value)})"
        attributes = [] if gs.name_attr.lower() == DN_ATTR.lower() else [gs.name_attr]
        new = []
        for group in self._search(conn, gs.base_dn, gs.scope, _and(gs.filter, clause), attributes):
            key = _dn_key(group.dn)
            if key in seen:
                continue
            seen.add(key)
            name = group.first(gs.name_attr)
            if not name:
                self._log.error("LDAP group %s has no %s attribute", group.dn, gs.name_attr)
                raise ConnectorError("an LDAP group entry lacks its name attribute")
            names.append(name)
            new.append(group)
        return new

    def _follow_parents(
        self,
        conn: Connection,
        matcher: UserMatcher,
        level: list[_Entry],
        seen: set[str],
        names: list[str],
    ) -> None:
        """Nested groups: parents hold a child group's DN in ``recursionGroupAttr``. Each group
        is visited once (cycles end) and at most ``MAX_GROUP_DEPTH`` levels are followed."""
        if not matcher.recursion_group_attr:
            return
        for depth in range(MAX_GROUP_DEPTH):
            if not level:
                return
            parents: list[_Entry] = []
            for group in level:
                parents += self._group_level(
                    conn, matcher.recursion_group_attr, group.dn, seen, names
                )
            level = parents
            if level and depth == MAX_GROUP_DEPTH - 1:
                self._log.warning("LDAP nested groups deeper than %d levels", MAX_GROUP_DEPTH)

    # --- identities ---------------------------------------------------------------------------

    def _identity(self, entry: _Entry, groups: tuple[str, ...], data: bytes | None) -> Identity:
        us = self.config.user_search
        missing: list[str] = []

        def need(attr: str) -> str:
            value = entry.first(attr)
            if not value:
                missing.append(attr)
            return value

        user_id = need(us.id_attr)
        username = need(us.name_attr) if us.name_attr else ""
        preferred = need(us.preferred_username_attr) if us.preferred_username_attr else ""
        email = f"{username}@{us.email_suffix}" if us.email_suffix else need(us.email_attr)
        if missing:
            self._log.error("LDAP entry %s lacks attribute(s) %s", entry.dn, ", ".join(missing))
            raise ConnectorError("the LDAP user entry lacks required attributes")
        return Identity(
            user_id=user_id,
            username=username,
            preferred_username=preferred,
            email=email,
            email_verified=True,
            groups=groups,
            connector_data=data,
        )

    # --- the connector contract ---------------------------------------------------------------

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        if not password or not username:
            return None  # never attempt an unauthenticated bind
        user = self._pool.run(lambda conn: self._find_user(conn, username))
        if user is None:
            self._log.info("LDAP login: no single entry for the given username")
            return None
        if not self._pool.check_password(user.dn, password):
            self._log.info("LDAP login: wrong password for %s", user.dn)
            return None
        groups = self._pool.run(lambda conn: self._groups(conn, user)) if scopes.groups else ()
        data = json.dumps({"username": username, "dn": user.dn}).encode("utf-8")
        return self._identity(user, groups, data)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        username, dn = _refresh_data(identity.connector_data)
        if not username or not dn:
            raise ConnectorError("this LDAP login cannot be refreshed; log in again")

        def reread(conn: Connection) -> tuple[_Entry | None, tuple[str, ...]]:
            entry = self._find_user(conn, username)
            if entry is None or _dn_key(entry.dn) != _dn_key(dn):
                return None, ()
            return entry, (self._groups(conn, entry) if scopes.groups else ())

        user, groups = self._pool.run(reread)
        if user is None:
            self._log.info("LDAP refresh: %s is gone", dn)
            raise UserGone(_GONE)
        return self._identity(user, groups, identity.connector_data)


def _refresh_data(data: bytes | None) -> tuple[str, str]:
    """(login name, DN) from our ``connector_data`` (``{"username", "dn"}``) or Dex's
    (``{"username", "entry": {"DN"}}``, for refresh tokens migrated from Dex)."""
    try:
        parsed = json.loads(data or b"")
    except (ValueError, TypeError):
        return "", ""
    if not isinstance(parsed, dict):
        return "", ""
    username = parsed.get("username") or parsed.get("Username") or ""
    dn = parsed.get("dn") or ""
    entry = parsed.get("entry") or parsed.get("Entry")
    if not dn and isinstance(entry, dict):
        dn = entry.get("DN") or entry.get("dn") or ""
    return (username, dn) if isinstance(username, str) and isinstance(dn, str) else ("", "")
