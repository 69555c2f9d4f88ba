"""Copying what lasts from one storage into another (``dex-py migrate-storage``): clients,
passwords, connectors, signing keys, browser sessions, refresh tokens and users' second factors
(``MFAState``) and the settings of ``SETTING_KEYS`` (the stored team rules), between any two
backends (SQLite, PostgreSQL, MySQL, etcd). When anything changed, the target's change counter
is bumped, so servers already running on it pick the copy up.

Idempotent: an object missing in the target is created, one that differs is overwritten with the
source's, an equal one is left alone, so the copy can be run again (say, once more right before
switching over) and ends with the same target. Nothing is deleted in the target. Short-lived
state (auth requests, codes, device requests, attempt counters) is not copied: logins in flight
start again. Revoked access tokens cannot be listed and are not copied either (the tokens they
refer to expire within their lifetime); nor the back-channel logout audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dex_py.storage.base import AlreadyExistsError, Keys, NotFoundError, Storage
from dex_py.storage.records import SETTING_KEYS


@dataclass
class CopyReport:
    """Per kind, how many objects were created, overwritten or already equal in the target."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1

    def lines(self) -> list[str]:
        kinds = sorted({*self.created, *self.updated, *self.unchanged})
        return [
            f"{kind}: {self.created.get(kind, 0)} created, {self.updated.get(kind, 0)} updated, "
            f"{self.unchanged.get(kind, 0)} unchanged"
            for kind in kinds
        ]


def _copy_all(
    report: CopyReport,
    kind: str,
    objects: Iterable[Any],
    key: Callable[[Any], str],
    target: Storage,
) -> None:
    get = getattr(target, f"get_{kind}")
    create = getattr(target, f"create_{kind}")
    update = getattr(target, f"update_{kind}")
    for obj in objects:
        try:
            existing = get(key(obj))
        except NotFoundError:
            try:
                create(obj)
                report.count(report.created, kind)
                continue
            except AlreadyExistsError:  # created meanwhile: overwrite below
                existing = None
        if existing == obj:
            report.count(report.unchanged, kind)
            continue
        update(key(obj), partial(_source, obj))
        report.count(report.updated, kind)


def _source(obj: Any, _old: Any) -> Any:
    return obj


def _copy_setting(report: CopyReport, key: str, source: Storage, target: Storage) -> None:
    value, version = source.get_setting(key)
    if not version:
        return
    old, old_version = target.get_setting(key)
    if old_version and old == value:
        report.count(report.unchanged, "setting")
        return
    target.put_setting(key, value, old_version)
    report.count(report.updated if old_version else report.created, "setting")


def copy_storage(source: Storage, target: Storage) -> CopyReport:
    """Copy every lasting object of ``source`` into ``target`` (see the module docstring)."""
    report = CopyReport()
    _copy_all(report, "client", source.list_clients(), lambda c: c.id, target)
    _copy_all(report, "password", source.list_passwords(), lambda p: p.email, target)
    _copy_all(report, "connector", source.list_connectors(), lambda c: c.id, target)
    _copy_all(report, "session", source.list_sessions(), lambda s: s.id, target)
    _copy_all(report, "refresh_token", source.list_refresh_tokens(), lambda t: t.id, target)
    _copy_all(report, "mfa_state", source.list_mfa_states(), lambda s: s.id, target)
    for key in SETTING_KEYS:
        _copy_setting(report, key, source, target)
    if report.created or report.updated:
        target.bump_generation()
    try:
        keys = source.get_keys()
    except NotFoundError:  # the source never had keys
        return report
    outcome: list[str] = []

    def take_source_keys(old: Keys | None) -> Keys:
        outcome[:] = ["unchanged" if old == keys else "created" if old is None else "updated"]
        return old if old is not None and old == keys else keys

    target.update_keys(take_source_keys)
    report.count(getattr(report, outcome[-1]), "keys")
    return report
