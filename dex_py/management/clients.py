"""OAuth2 clients managed at run time: list, read, create, change, delete, rotate the secret.

The server generates every client secret (``secrets.token_urlsafe(32)``, 256 bits), returns it
once from ``create_client`` or ``rotate_client_secret`` and stores only its SHA-256 digest
(``dex_py.clients.secret_digest``); views never carry a secret or digest. Public clients and
``private_key_jwt`` clients have no secret. A rotation may keep the replaced secret valid
for a grace period (``Client.previous_secret_hash``/``previous_secret_expiry``, accepted by
``dex_py.clients.check_secret`` until then). Every write bumps the storage's change counter,
so every worker and replica sees it. Clients from ``config.yaml`` are read-only
(``ReadOnly``) and their ids are taken (``AlreadyExists``). Deleting a client revokes its
refresh tokens and the access tokens issued under them. The rules a client must satisfy are
in ``client_rules``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from dex_py import revocation
from dex_py.clients import secret_digest
from dex_py.jose.client_assertions import PRIVATE_KEY_JWT
from dex_py.management.actor import Actor, audited
from dex_py.management.client_rules import (
    SPEC_FIELDS,
    ClientSpec,
    check_client_spec,
    with_changes,
)
from dex_py.management.errors import AlreadyExists, Invalid, ReadOnly, storage_errors
from dex_py.management.versions import check_version, version_of
from dex_py.services import Services
from dex_py.storage.base import Client
from dex_py.storage.static import StaticOverlay

__all__ = [
    "ClientSpec",
    "ClientView",
    "create_client",
    "delete_client",
    "get_client",
    "list_clients",
    "rotate_client_secret",
    "update_client",
]

MAX_GRACE = timedelta(days=30)  # how long a replaced secret may keep working


@dataclass(frozen=True)
class ClientView:
    """A client as the console and the API show it: its settings, whether it has a secret,
    where it comes from (``static``: config.yaml, read-only) and its ``version`` (the ETag)."""

    id: str
    name: str
    public: bool
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    trusted_peers: tuple[str, ...]
    logo_url: str
    allowed_connectors: tuple[str, ...]
    allowed_groups: tuple[str, ...]
    grant_types: tuple[str, ...]
    token_endpoint_auth_method: str
    jwks: str
    jwks_uri: str
    backchannel_logout_uri: str
    skip_approval: bool
    has_secret: bool
    # until when the secret a rotation replaced still works (None: no such secret)
    previous_secret_expiry: datetime | None
    static: bool
    version: str

    @property
    def spec(self) -> ClientSpec:
        """The settings alone, to edit and send back."""
        return ClientSpec(**{name: getattr(self, name) for name in SPEC_FIELDS})


def is_static_client(svc: Services, client_id: str) -> bool:
    """Whether the client is defined in config.yaml or built in (the console's), and so
    read-only."""
    storage = svc.storage
    if isinstance(storage, StaticOverlay) and storage.is_static_client(client_id):
        return True
    return any(c.id == client_id for c in svc.config.static_clients)


def _view(svc: Services, c: Client) -> ClientView:
    settings = {name: getattr(c, name) for name in SPEC_FIELDS}
    return ClientView(
        **settings,
        has_secret=bool(c.secret_hash),
        previous_secret_expiry=c.previous_secret_expiry if c.previous_secret_hash else None,
        static=is_static_client(svc, c.id),
        version=version_of(c),
    )


def _spec_of(c: Client) -> ClientSpec:
    return ClientSpec(**{name: getattr(c, name) for name in SPEC_FIELDS})


def _has_secret(spec: ClientSpec) -> bool:
    return not spec.public and spec.token_endpoint_auth_method != PRIVATE_KEY_JWT


def _without_secrets(c: Client) -> Client:
    return replace(c, secret_hash="", previous_secret_hash="", previous_secret_expiry=None)


def list_clients(svc: Services) -> list[ClientView]:
    """Every client (config.yaml's and stored ones), by id."""
    return [_view(svc, c) for c in sorted(svc.storage.list_clients(), key=lambda c: c.id)]


def get_client(svc: Services, client_id: str) -> ClientView:
    """The client ``client_id``; ``NotFound`` if there is none."""
    with storage_errors(f"client {client_id!r}"):
        return _view(svc, svc.storage.get_client(client_id))


def create_client(svc: Services, actor: Actor, spec: ClientSpec) -> tuple[ClientView, str | None]:
    """Store a new client; returns its view and its secret (``None`` for a client without
    one): the only time the secret is ever shown. An empty id gets a generated one."""
    if not spec.id:
        spec = replace(spec, id=secrets.token_hex(12))
    with audited(svc, actor, "client.create", "client", spec.id, public=spec.public):
        check_client_spec(spec)
        secret = secrets.token_urlsafe(32) if _has_secret(spec) else None
        record = Client(
            **{name: getattr(spec, name) for name in SPEC_FIELDS},
            secret_hash=secret_digest(secret) if secret else "",
        )
        if is_static_client(svc, spec.id):
            raise AlreadyExists(f"client {spec.id!r} is defined in config.yaml")
        with storage_errors(f"client {spec.id!r}"):
            svc.storage.create_client(record)
        svc.storage.bump_generation()
    return _view(svc, record), secret


def update_client(
    svc: Services,
    actor: Actor,
    client_id: str,
    changes: ClientSpec | Mapping[str, Any],
    *,
    expected_version: str | None = None,
) -> ClientView:
    """Change a stored client: ``changes`` is a whole ``ClientSpec`` (every setting replaced)
    or a mapping of the settings to change. The secret stays; a client that becomes public or
    ``private_key_jwt`` loses it. With ``expected_version``, a client changed since it was read
    is ``Conflict`` and nothing is written."""
    if isinstance(changes, ClientSpec):
        changes = {name: getattr(changes, name) for name in SPEC_FIELDS if name != "id"}
    with audited(svc, actor, "client.update", "client", client_id, fields=sorted(changes)):
        if "id" in changes and changes["id"] != client_id:
            raise Invalid([("id", "a client's id cannot change")])
        if is_static_client(svc, client_id):
            raise ReadOnly(f"client {client_id!r} is defined in config.yaml: change it there")

        def change(old: Client) -> Client:
            check_version(old, expected_version, f"client {client_id!r}")
            spec = with_changes(_spec_of(old), changes)
            check_client_spec(spec)
            settings = {name: getattr(spec, name) for name in SPEC_FIELDS}
            new = replace(old, **settings)
            return new if _has_secret(spec) else _without_secrets(new)

        with storage_errors(f"client {client_id!r}"):
            updated = svc.storage.update_client(client_id, change)
        svc.storage.bump_generation()
    return _view(svc, updated)


def delete_client(
    svc: Services, actor: Actor, client_id: str, *, expected_version: str | None = None
) -> None:
    """Delete a stored client, then revoke its refresh tokens (and the access tokens issued
    under them): with the client gone they are useless, and revoked they stay refused."""
    with audited(svc, actor, "client.delete", "client", client_id) as outcome:
        if is_static_client(svc, client_id):
            raise ReadOnly(f"client {client_id!r} is defined in config.yaml: change it there")
        with storage_errors(f"client {client_id!r}"):
            check_version(svc.storage.get_client(client_id), expected_version, "client")
            svc.storage.delete_client(client_id)
        svc.storage.bump_generation()
        tokens = svc.storage.list_refresh_tokens(client_id=client_id)
        for token in tokens:
            revocation.revoke_grant(svc, token.id)
        outcome["refresh_tokens_revoked"] = len(tokens)


def rotate_client_secret(
    svc: Services,
    actor: Actor,
    client_id: str,
    grace: timedelta = timedelta(0),
    *,
    expected_version: str | None = None,
) -> str:
    """Give a client a new generated secret and return it (shown once). The replaced secret
    keeps working for ``grace`` (0: not at all), so the client's deployments can switch over;
    a secret replaced by an earlier rotation stops at once."""
    with audited(
        svc, actor, "client.rotate_secret", "client", client_id, grace_seconds=grace.total_seconds()
    ):
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise Invalid([("grace", f"must be between 0 and {MAX_GRACE.days} days")])
        if is_static_client(svc, client_id):
            raise ReadOnly(f"client {client_id!r} is defined in config.yaml: change it there")
        secret = secrets.token_urlsafe(32)
        now = svc.clock.now()

        def rotate(old: Client) -> Client:
            check_version(old, expected_version, f"client {client_id!r}")
            if not _has_secret(_spec_of(old)):
                raise Invalid([("client", "public and private_key_jwt clients have no secret")])
            keep = bool(grace) and bool(old.secret_hash)
            return replace(
                old,
                secret_hash=secret_digest(secret),
                previous_secret_hash=old.secret_hash if keep else "",
                previous_secret_expiry=now + grace if keep else None,
            )

        with storage_errors(f"client {client_id!r}"):
            svc.storage.update_client(client_id, rotate)
        svc.storage.bump_generation()
    return secret
