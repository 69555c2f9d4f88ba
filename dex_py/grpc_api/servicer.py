"""The ``api.Dex`` calls on a ``Storage``: clients, passwords, connectors, refresh tokens,
version and discovery (connector and refresh token calls in their own modules).

Semantics follow Dex's API: ``create_*`` answers ``already_exists`` instead of failing,
``update_*``/``delete_*`` answer ``not_found``; a missing required field is
``INVALID_ARGUMENT``. Objects from the config file (``StaticOverlay``) stay read-only: changing
one is ``FAILED_PRECONDITION``. Every client or password written bumps the storage's change
counter (``Storage.bump_generation``), so every worker and replica sees it, and leaves an
audit record naming the caller (its client certificate's common name, else its address).
Client secrets are kept only as digests, so ``GetClient`` cannot return a secret: it is
returned once, by ``CreateClient``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import bcrypt
import grpc

from connectors.local import bcrypt_cost
from dex_py import __version__
from dex_py.clients import secret_digest
from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api import api_pb2_grpc
from dex_py.grpc_api.connectors import ConnectorCalls
from dex_py.grpc_api.errors import Abort, answering, invalid
from dex_py.grpc_api.refresh import RefreshCalls
from dex_py.management.client_rules import unsafe_uri_problems
from dex_py.ops.audit import audit
from dex_py.passwords import DEFAULT_COST, MAX_PASSWORD_BYTES
from dex_py.storage.base import (
    AlreadyExistsError,
    Client,
    NotFoundError,
    Password,
    Storage,
)

API_VERSION = 2  # the api.Dex revision whose calls this servicer answers
MAX_BCRYPT_COST = 16  # Dex refuses hashes above this: verifying them would take too long

Discovery = Callable[[], Mapping[str, Any]]


def _client_message(c: Client, secret: str = "") -> pb.Client:
    return pb.Client(
        id=c.id,
        secret=secret,
        redirect_uris=list(c.redirect_uris),
        trusted_peers=list(c.trusted_peers),
        public=c.public,
        name=c.name,
        logo_url=c.logo_url,
    )


def caller(context: grpc.ServicerContext) -> str:
    """How the audit log names a gRPC caller: ``grpc:`` and the common name of its client
    certificate (mutual TLS), else its address."""
    names = context.auth_context().get("x509_common_name") or []
    if names:
        return "grpc:" + names[0].decode("utf-8", "replace")
    return "grpc:" + context.peer()


def _check_uris(redirect_uris: Iterable[str], logo_url: str) -> None:
    """Refuse a redirect or logo URI with a script-capable scheme (``javascript:``, ``data:``,
    ...) or control characters: Dex stores any string, but a ``form_post`` answer to a
    ``javascript:`` redirect URI would run script in the issuer's origin."""
    problems = unsafe_uri_problems("redirect_uris", redirect_uris)
    if logo_url:
        problems += [("logo_url", m) for _, m in unsafe_uri_problems("logo_url", [logo_url])]
    if problems:
        invalid("; ".join(f"{field}: {message}" for field, message in problems))


def _check_hash(hash: bytes) -> None:
    """A bcrypt hash Dex would accept: well-formed, cost between 10 and 16."""
    cost = bcrypt_cost(hash)
    if cost is None:
        invalid("hash is not a bcrypt hash")
    if not DEFAULT_COST <= cost <= MAX_BCRYPT_COST:
        invalid(f"bcrypt cost {cost} is outside {DEFAULT_COST}..{MAX_BCRYPT_COST}")


class DexApi(ConnectorCalls, RefreshCalls, api_pb2_grpc.DexServicer):
    """``api.Dex`` on ``storage`` (a ``StaticOverlay`` keeps config objects read-only)."""

    def __init__(
        self,
        storage: Storage,
        discovery: Discovery,
        *,
        connectors_crud: bool = False,
        access_token_lifetime: timedelta = timedelta(hours=24),
        store_audit: bool = True,
    ) -> None:
        self.storage = storage
        self.discovery = discovery
        self.connectors_crud = connectors_crud  # Dex's DEX_API_CONNECTORS_CRUD
        # how long a revoked chain's access tokens stay recorded as revoked (expiry.accessTokens)
        self.access_token_lifetime = access_token_lifetime
        self.store_audit = store_audit  # the audit section's store: keep records in storage

    def _changed(self, context: grpc.ServicerContext, action: str, object: str) -> None:
        """After a write: bump the change counter and leave the audit record (event ``admin``,
        as the console's and the JSON API's changes; never a secret or hash)."""
        self.storage.bump_generation()
        kept = self.storage if self.store_audit else None
        audit("admin", actor=caller(context), action=action, object=object, storage=kept)

    # clients

    def GetClient(self, request: pb.GetClientReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "get client"):
            if not request.id:
                invalid("no client ID supplied")
            try:
                return pb.GetClientResp(client=_client_message(self.storage.get_client(request.id)))
            except NotFoundError:
                raise Abort(grpc.StatusCode.NOT_FOUND, "client not found") from None

    def CreateClient(self, request: pb.CreateClientReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "create client"):
            if not request.HasField("client"):
                invalid("no client supplied")
            c = request.client
            _check_uris(c.redirect_uris, c.logo_url)
            client_id = c.id or secrets.token_urlsafe(16)
            secret = c.secret or ("" if c.public else secrets.token_urlsafe(32))
            record = Client(
                id=client_id,
                secret_hash=secret_digest(secret) if secret else "",
                redirect_uris=tuple(c.redirect_uris),
                trusted_peers=tuple(c.trusted_peers),
                public=c.public,
                name=c.name,
                logo_url=c.logo_url,
            )
            try:
                self.storage.create_client(record)
            except AlreadyExistsError:
                return pb.CreateClientResp(already_exists=True)
            self._changed(context, "client.create", f"client:{client_id}")
            return pb.CreateClientResp(client=_client_message(record, secret))

    def UpdateClient(self, request: pb.UpdateClientReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "update client"):
            if not request.id:
                invalid("no client ID supplied")
            _check_uris(request.redirect_uris, request.logo_url)

            def change(old: Client) -> Client:
                return replace(
                    old,
                    redirect_uris=tuple(request.redirect_uris) or old.redirect_uris,
                    trusted_peers=tuple(request.trusted_peers) or old.trusted_peers,
                    name=request.name or old.name,
                    logo_url=request.logo_url or old.logo_url,
                )

            try:
                self.storage.update_client(request.id, change)
            except NotFoundError:
                return pb.UpdateClientResp(not_found=True)
            self._changed(context, "client.update", f"client:{request.id}")
            return pb.UpdateClientResp()

    def DeleteClient(self, request: pb.DeleteClientReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "delete client"):
            try:
                self.storage.delete_client(request.id)
            except NotFoundError:
                return pb.DeleteClientResp(not_found=True)
            self._changed(context, "client.delete", f"client:{request.id}")
            return pb.DeleteClientResp()

    def ListClients(self, request: pb.ListClientReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "list clients"):
            return pb.ListClientResp(
                clients=[
                    pb.ClientInfo(
                        id=c.id,
                        redirect_uris=list(c.redirect_uris),
                        trusted_peers=list(c.trusted_peers),
                        public=c.public,
                        name=c.name,
                        logo_url=c.logo_url,
                    )
                    for c in self.storage.list_clients()
                ]
            )

    # passwords

    def CreatePassword(self, request: pb.CreatePasswordReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "create password"):
            p = request.password
            if not p.email:
                invalid("no email supplied")
            if not p.user_id:
                invalid("no user ID supplied")
            _check_hash(p.hash)
            record = Password(
                email=p.email.lower(), hash=p.hash, username=p.username, user_id=p.user_id
            )
            try:
                self.storage.create_password(record)
            except AlreadyExistsError:
                return pb.CreatePasswordResp(already_exists=True)
            self._changed(context, "user.create", f"user:{record.email}")
            return pb.CreatePasswordResp()

    def UpdatePassword(self, request: pb.UpdatePasswordReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "update password"):
            if not request.email:
                invalid("no email supplied")
            if not request.new_hash and not request.new_username:
                invalid("nothing to update")
            if request.new_hash:
                _check_hash(request.new_hash)

            def change(old: Password) -> Password:
                return replace(
                    old,
                    hash=request.new_hash or old.hash,
                    username=request.new_username or old.username,
                )

            try:
                self.storage.update_password(request.email.lower(), change)
            except NotFoundError:
                return pb.UpdatePasswordResp(not_found=True)
            self._changed(context, "user.update", f"user:{request.email.lower()}")
            return pb.UpdatePasswordResp()

    def DeletePassword(self, request: pb.DeletePasswordReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "delete password"):
            if not request.email:
                invalid("no email supplied")
            try:
                self.storage.delete_password(request.email.lower())
            except NotFoundError:
                return pb.DeletePasswordResp(not_found=True)
            self._changed(context, "user.delete", f"user:{request.email.lower()}")
            return pb.DeletePasswordResp()

    def ListPasswords(self, request: pb.ListPasswordReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "list passwords"):
            return pb.ListPasswordResp(
                passwords=[
                    pb.Password(email=p.email, hash=p.hash, username=p.username, user_id=p.user_id)
                    for p in self.storage.list_passwords()
                ]
            )

    def VerifyPassword(self, request: pb.VerifyPasswordReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "verify password"):
            if not request.email:
                invalid("no email supplied")
            if not request.password:
                invalid("no password supplied")
            try:
                stored = self.storage.get_password(request.email.lower())
            except NotFoundError:
                return pb.VerifyPasswordResp(not_found=True)
            plain = request.password.encode("utf-8")
            ok = len(plain) <= MAX_PASSWORD_BYTES and bcrypt.checkpw(plain, stored.hash)
            return pb.VerifyPasswordResp(verified=ok)

    # server

    def GetVersion(self, request: pb.VersionReq, context: grpc.ServicerContext) -> Any:
        return pb.VersionResp(server=__version__, api=API_VERSION)

    def GetDiscovery(self, request: pb.DiscoveryReq, context: grpc.ServicerContext) -> Any:
        doc = self.discovery()
        fields = pb.DiscoveryResp.DESCRIPTOR.fields_by_name
        return pb.DiscoveryResp(**{k: v for k, v in doc.items() if k in fields})
