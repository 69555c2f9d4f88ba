"""Users of the built-in password database (the ``local`` connector): list, read, create,
change (username, groups, password) and delete.

Passwords are checked with ``dex_py.passwords.check_password_policy`` and kept as bcrypt hashes
(``hash_password``); views never carry one. Users from ``staticPasswords`` in config.yaml are
read-only (``ReadOnly``) and their addresses taken (``AlreadyExists``). A user id is unique
among users (it is half of the ``sub`` in their tokens); an empty one gets a UUID. Deleting a
user also revokes their SSO sessions and refresh tokens (``sessions.end_user_sessions``).
Every write bumps the storage's change counter, so every worker and replica sees it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dex_py.config.model import LOCAL_CONNECTOR_ID
from dex_py.jose.tokens import encode_sub
from dex_py.management.actor import Actor, audited
from dex_py.management.errors import AlreadyExists, Invalid, ReadOnly, storage_errors
from dex_py.management.sessions import end_user_sessions
from dex_py.management.versions import check_version, version_of
from dex_py.passwords import check_password_policy, hash_password
from dex_py.services import Services
from dex_py.storage.base import Password

__all__ = [
    "UserSpec",
    "UserView",
    "create_user",
    "delete_user",
    "get_user",
    "list_users",
    "update_user",
]

EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+")  # no "/": the address is a segment of URLs
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3, a path's limit
MAX_TEXT = 200
MAX_GROUPS = 100
CHANGEABLE = ("username", "groups", "password")


@dataclass(frozen=True)
class UserSpec:
    """A new user: ``password`` in the clear (hashed before it is stored), ``user_id`` empty
    for a generated one."""

    email: str
    username: str
    password: str
    user_id: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserView:
    """A password user as the console and the API show it (never the hash)."""

    email: str
    username: str
    user_id: str
    groups: tuple[str, ...]
    sub: str  # the ``sub`` of their tokens (user id of the ``local`` connector)
    static: bool
    version: str


def is_static_user(svc: Services, email: str) -> bool:
    """Whether the address is a user of ``staticPasswords`` (read-only)."""
    return any(p.email.lower() == email.lower() for p in svc.config.static_passwords)


def _view(svc: Services, p: Password) -> UserView:
    return UserView(
        email=p.email.lower(),
        username=p.username,
        user_id=p.user_id,
        groups=tuple(p.groups),
        sub=encode_sub(p.user_id, LOCAL_CONNECTOR_ID),
        static=is_static_user(svc, p.email),
        version=version_of(p),
    )


def _all(svc: Services) -> dict[str, Password]:
    users = {
        p.email.lower(): Password(p.email.lower(), p.hash, p.username, p.user_id, tuple(p.groups))
        for p in svc.config.static_passwords
    }
    for p in svc.storage.list_passwords():
        users.setdefault(p.email.lower(), p)
    return users


def list_users(svc: Services) -> list[UserView]:
    """Every password user (config.yaml's and stored ones), by address."""
    users = _all(svc)
    return [_view(svc, users[email]) for email in sorted(users)]


def get_user(svc: Services, email: str) -> UserView:
    """The user with this address (any case); ``NotFound`` if there is none."""
    users = _all(svc)
    if email.lower() in users:
        return _view(svc, users[email.lower()])
    with storage_errors(f"user {email!r}"):
        return _view(svc, svc.storage.get_password(email.lower()))


def _check_text(field: str, value: str, problems: list[tuple[str, str]]) -> None:
    if not value.strip():
        problems.append((field, "required"))
    elif len(value) > MAX_TEXT:
        problems.append((field, f"at most {MAX_TEXT} characters"))
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        problems.append((field, "must not contain control characters"))


def _check_groups(groups: Sequence[Any], problems: list[tuple[str, str]]) -> None:
    if len(groups) > MAX_GROUPS:
        problems.append(("groups", f"at most {MAX_GROUPS} groups"))
    if len(set(groups)) != len(groups):
        problems.append(("groups", "has duplicates"))
    for i, group in enumerate(groups):
        if not isinstance(group, str):
            problems.append((f"groups[{i}]", "must be a string"))
        else:
            _check_text(f"groups[{i}]", group, problems)


def _check_password(password: str, problems: list[tuple[str, str]]) -> None:
    try:
        check_password_policy(password)
    except ValueError as exc:
        problems.append(("password", str(exc)))


def create_user(svc: Services, actor: Actor, spec: UserSpec) -> UserView:
    """Store a new password user."""
    email = spec.email.strip().lower()
    user_id = spec.user_id.strip() or str(uuid.uuid4())
    with audited(svc, actor, "user.create", "user", email):
        problems: list[tuple[str, str]] = []
        if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
            problems.append(("email", "not an e-mail address"))
        _check_text("username", spec.username, problems)
        _check_text("user_id", user_id, problems)
        _check_groups(spec.groups, problems)
        _check_password(spec.password, problems)
        if problems:
            raise Invalid(problems)
        existing = _all(svc)
        if email in existing:
            raise AlreadyExists(f"user {email!r} exists already")
        if any(p.user_id == user_id for p in existing.values()):
            raise AlreadyExists(f"user id {user_id!r} is taken by another user")
        record = Password(email, hash_password(spec.password), spec.username, user_id, spec.groups)
        with storage_errors(f"user {email!r}"):
            svc.storage.create_password(record)
        svc.storage.bump_generation()
    return _view(svc, record)


def update_user(
    svc: Services,
    actor: Actor,
    email: str,
    changes: Mapping[str, Any],
    *,
    expected_version: str | None = None,
) -> UserView:
    """Change a stored user's ``username``, ``groups`` and/or ``password`` (the keys of
    ``changes``); the address and user id cannot change. With ``expected_version``, a user
    changed since it was read is ``Conflict`` and nothing is written."""
    email = email.lower()
    with audited(svc, actor, "user.update", "user", email, fields=sorted(changes)):
        problems = [(k, "cannot be changed") for k in changes if k not in CHANGEABLE]
        if "username" in changes:
            if isinstance(changes["username"], str):
                _check_text("username", changes["username"], problems)
            else:
                problems.append(("username", "must be a string"))
        groups = changes.get("groups", ())
        if not isinstance(groups, list | tuple):
            problems.append(("groups", "must be a list of strings"))
        else:
            _check_groups(groups, problems)
        if "password" in changes:
            if isinstance(changes["password"], str):
                _check_password(changes["password"], problems)
            else:
                problems.append(("password", "must be a string"))
        if problems:
            raise Invalid(problems)
        if is_static_user(svc, email):
            raise ReadOnly(f"user {email!r} is defined in config.yaml: change it there")
        new_hash = hash_password(changes["password"]) if "password" in changes else None

        def change(old: Password) -> Password:
            check_version(old, expected_version, f"user {email!r}")
            return replace(
                old,
                username=changes.get("username", old.username),
                groups=tuple(changes.get("groups", old.groups)),
                hash=new_hash or old.hash,
            )

        with storage_errors(f"user {email!r}"):
            updated = svc.storage.update_password(email, change)
        svc.storage.bump_generation()
    return _view(svc, updated)


def delete_user(
    svc: Services, actor: Actor, email: str, *, expected_version: str | None = None
) -> None:
    """Delete a stored user, then revoke their SSO sessions and refresh tokens (with
    back-channel logout), so nothing they hold keeps working."""
    email = email.lower()
    with audited(svc, actor, "user.delete", "user", email) as out:
        if is_static_user(svc, email):
            raise ReadOnly(f"user {email!r} is defined in config.yaml: change it there")
        with storage_errors(f"user {email!r}"):
            old = svc.storage.get_password(email)
            check_version(old, expected_version, f"user {email!r}")
            svc.storage.delete_password(email)
        svc.storage.bump_generation()
        ended = end_user_sessions(svc, old.user_id, LOCAL_CONNECTOR_ID)
        out.update(sessions=ended.sessions, refresh_tokens=ended.refresh_tokens)
