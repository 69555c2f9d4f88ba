"""Connectors managed at run time: list, read, test, create, change, delete.

Stored connectors sit beside the ones of ``config.yaml`` (read-only; their ids, and ``local``
of the password DB, are taken). A connector is opened and its upstream asked before it is saved
("test connection", ``test_connector``): a config the connector refuses, or an upstream that
does not answer within ``ConnectorManager.TRIAL_TIMEOUT``, is ``Invalid`` and nothing is
stored. Every change bumps the storage's change counter, so every worker and replica re-opens
the connector within about a second (``dex_py.connector_manager``), and this process at once.

Secrets in a connector's config (``bindPW``, ``clientSecret``, any key that looks like a
password, secret, token or private key) are shown as ``REDACTED``; an update that sends the
placeholder back keeps the stored value, so an admin can edit a connector without retyping them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connectors import validate_connector_config
from connectors.base import ConnectorConfigError, ConnectorError
from dex_py.connector_manager import LOCAL_ID
from dex_py.management.actor import Actor, audited
from dex_py.management.errors import AlreadyExists, Invalid, ReadOnly, storage_errors
from dex_py.management.versions import check_version, version_of
from dex_py.services import Services
from dex_py.storage.base import Connector, NotFoundError

__all__ = [
    "REDACTED",
    "ConnectorView",
    "create_connector",
    "delete_connector",
    "get_connector",
    "list_connectors",
    "redact",
    "test_connector",
    "update_connector",
]

REDACTED = "********"
# Config keys whose values are secrets (compared lower-cased, without "_" and "-").
_SECRET_KEY = re.compile(r"(password|passwd|secret|bindpw|token|privatekey|credential|apikey)")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # it is a path segment: /auth/<id>
MAX_ID = 100
MAX_NAME = 255


@dataclass(frozen=True)
class ConnectorView:
    """A connector as the console and the API show it: ``config`` with its secrets redacted,
    ``static`` (from config.yaml, read-only), ``state`` ("ok", or why it cannot be used now, as
    the running server sees it) and ``version`` (the ETag)."""

    id: str
    type: str
    name: str
    config: dict[str, Any]
    static: bool
    state: str
    version: str


def _secret_key(key: Any) -> bool:
    return bool(_SECRET_KEY.search(str(key).lower().replace("_", "").replace("-", "")))


def redact(config: Any) -> Any:
    """``config`` with every non-empty secret-looking value replaced by ``REDACTED``."""
    if isinstance(config, dict):
        return {
            k: REDACTED if _secret_key(k) and v not in ("", None) else redact(v)
            for k, v in config.items()
        }
    if isinstance(config, list):
        return [redact(v) for v in config]
    return config


def _keep_secrets(new: Any, old: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """``new`` with each ``REDACTED`` placeholder replaced by the value at the same place in
    ``old`` (the stored config); a placeholder with nothing stored there is an error."""
    if new == REDACTED:
        if isinstance(old, str) and old:
            return old
        errors.append((path, "the redacted placeholder stands for no stored value: type it"))
        return new
    if isinstance(new, dict):
        fields = old if isinstance(old, dict) else {}
        return {k: _keep_secrets(v, fields.get(k), f"{path}.{k}", errors) for k, v in new.items()}
    if isinstance(new, list):
        items = old if isinstance(old, list) else []
        return [
            _keep_secrets(v, items[i] if i < len(items) else None, f"{path}[{i}]", errors)
            for i, v in enumerate(new)
        ]
    return new


def _is_static(svc: Services, connector_id: str) -> bool:
    if connector_id == LOCAL_ID and svc.config.enable_password_db:
        return True
    return any(c.id == connector_id for c in svc.config.connectors)


def _state(svc: Services, connector_id: str) -> str:
    entry = svc.connectors.get(connector_id)
    if entry is None:
        return "not running yet"
    return svc.connectors.problem(entry) or "ok"


def _view(svc: Services, record: Connector) -> ConnectorView:
    return ConnectorView(
        id=record.id,
        type=record.type,
        name=record.name,
        config=redact(record.config),
        static=_is_static(svc, record.id),
        state=_state(svc, record.id),
        version=version_of(record),
    )


def _local_record(svc: Services) -> Connector | None:
    """The password DB's connector (``enablePasswordDB``): running, but in no list of records."""
    if not svc.config.enable_password_db:
        return None
    entry = svc.connectors.get(LOCAL_ID)
    name = entry.name if entry is not None else "Email"
    return Connector(id=LOCAL_ID, type="local", name=name)


def list_connectors(svc: Services) -> list[ConnectorView]:
    """Every connector: config.yaml's (and the password DB's) and the stored ones, by id."""
    records = {c.id: c for c in svc.storage.list_connectors()}
    local = _local_record(svc)
    if local is not None:
        records.setdefault(local.id, local)
    return [_view(svc, records[id]) for id in sorted(records)]


def _record(svc: Services, connector_id: str) -> Connector:
    local = _local_record(svc)
    if local is not None and connector_id == LOCAL_ID:
        return local
    with storage_errors(f"connector {connector_id!r}"):
        return svc.storage.get_connector(connector_id)


def get_connector(svc: Services, connector_id: str) -> ConnectorView:
    """The connector ``connector_id``; ``NotFound`` if there is none."""
    return _view(svc, _record(svc, connector_id))


def test_connector(
    svc: Services, type: str, config: dict[str, Any], *, connector_id: str = "trial"
) -> None:
    """Open a connector of ``type`` with ``config``, ask its upstream, close it. ``Invalid``
    lists what is wrong: the config's problems (``config.host``), or the upstream's answer."""
    if not isinstance(config, dict):
        raise Invalid([("config", "must be a mapping")])
    problems = validate_connector_config(type, config)
    if problems:
        raise Invalid(problems)
    try:
        svc.connectors.trial(type, config, connector_id=connector_id)
    except ConnectorConfigError as exc:
        raise Invalid(list(exc.errors)) from None
    except ConnectorError as exc:
        raise Invalid([("connection", str(exc) or "the upstream did not answer")]) from None


test_connector.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest to collect


def _check_fields(connector_id: str, type: str, name: str) -> None:
    errors = []
    if not _ID.match(connector_id) or len(connector_id) > MAX_ID:
        errors.append(
            (
                "id",
                f"1 to {MAX_ID} letters, digits, '.', '_' or '-', starting with one of the first",
            )
        )
    if not type:
        errors.append(("type", "required"))
    if not name.strip() or len(name) > MAX_NAME:
        errors.append(("name", f"required, at most {MAX_NAME} characters"))
    if errors:
        raise Invalid(errors)


def _changed(svc: Services) -> None:
    """Tell every process (this one at once) that the stored connectors changed."""
    svc.storage.bump_generation()
    svc.connectors.refresh()


def create_connector(
    svc: Services, actor: Actor, id: str, type: str, name: str, config: dict[str, Any]
) -> ConnectorView:
    """Test, then store a new connector; every worker opens it within about a second."""
    with audited(svc, actor, "connector.create", "connector", id, type=type):
        _check_fields(id, type, name)
        if _is_static(svc, id):
            raise AlreadyExists(f"connector {id!r} is defined in config.yaml")
        _refuse_taken(svc, id)  # before the (slow) test
        test_connector(svc, type, config, connector_id=id)
        record = Connector(id=id, type=type, name=name, config=dict(config))
        with storage_errors(f"connector {id!r}"):
            svc.storage.create_connector(record)
        _changed(svc)
    return _view(svc, record)


def _refuse_taken(svc: Services, connector_id: str) -> None:
    try:
        svc.storage.get_connector(connector_id)
    except NotFoundError:
        return
    raise AlreadyExists(f"connector {connector_id!r} exists already")


def update_connector(
    svc: Services,
    actor: Actor,
    id: str,
    *,
    name: str | None = None,
    type: str | None = None,
    config: dict[str, Any] | None = None,
    expected_version: str | None = None,
) -> ConnectorView:
    """Change a stored connector's name, type or config (a ``REDACTED`` value keeps the stored
    secret); a new type or config is tested first. With ``expected_version``, a connector
    changed since it was read is ``Conflict`` and nothing is written."""
    fields = [k for k, v in (("name", name), ("type", type), ("config", config)) if v is not None]
    with audited(svc, actor, "connector.update", "connector", id, fields=fields):
        if _is_static(svc, id):
            raise ReadOnly(f"connector {id!r} is defined in config.yaml: change it there")
        old = _record(svc, id)
        check_version(old, expected_version, f"connector {id!r}")
        new_config = old.config
        if config is not None:
            if not isinstance(config, dict):
                raise Invalid([("config", "must be a mapping")])
            errors: list[tuple[str, str]] = []
            new_config = _keep_secrets(config, old.config, "config", errors)
            if errors:
                raise Invalid(errors)
        new = Connector(
            id=id,
            type=old.type if type is None else type,
            name=old.name if name is None else name,
            config=new_config,
            resource_version=old.resource_version,
        )
        _check_fields(id, new.type, new.name)
        if new.type != old.type or new.config != old.config:
            test_connector(svc, new.type, new.config, connector_id=id)

        def change(current: Connector) -> Connector:
            check_version(current, version_of(old), f"connector {id!r}")  # changed meanwhile
            return new

        with storage_errors(f"connector {id!r}"):
            stored = svc.storage.update_connector(id, change)
        _changed(svc)
    return _view(svc, stored)


def delete_connector(
    svc: Services, actor: Actor, id: str, *, expected_version: str | None = None
) -> None:
    """Delete a stored connector; every worker closes it within about a second. Users who
    logged in through it can no longer refresh their tokens."""
    with audited(svc, actor, "connector.delete", "connector", id):
        if _is_static(svc, id):
            raise ReadOnly(f"connector {id!r} is defined in config.yaml: change it there")
        with storage_errors(f"connector {id!r}"):
            check_version(svc.storage.get_connector(id), expected_version, f"connector {id!r}")
            svc.storage.delete_connector(id)
        _changed(svc)
