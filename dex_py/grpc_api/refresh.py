"""``ListRefresh`` and ``RevokeRefresh`` of ``api.Dex``: a user's refresh tokens, named by the
``sub`` of their ID tokens (Dex's encoding of user ID and connector ID). Revoking a chain also
revokes the access tokens issued under it (as the token endpoint's revocation does), and is
audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api.errors import answering, invalid
from dex_py.jose.tokens import decode_sub
from dex_py.revocation import GRANT_REVOCATION_MARGIN, record_grant_revoked
from dex_py.storage.base import NotFoundError, RefreshToken, Storage


class RefreshCalls:
    storage: Storage
    access_token_lifetime: timedelta
    _changed: Callable[[grpc.ServicerContext, str, str], None]

    def _tokens(self, sub: str, context: grpc.ServicerContext, client_id: str | None) -> list:
        try:
            user_id, connector_id = decode_sub(sub)
        except ValueError:
            invalid("user_id is not an ID token subject")
        tokens: list[RefreshToken] = self.storage.list_refresh_tokens(
            user_id=user_id, client_id=client_id
        )
        return [t for t in tokens if t.connector_id == connector_id]

    def ListRefresh(self, request: pb.ListRefreshReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "list refresh"):
            return self._list(request, context)

    def _list(self, request: pb.ListRefreshReq, context: grpc.ServicerContext) -> Any:
        return pb.ListRefreshResp(
            refresh_tokens=[
                pb.RefreshTokenRef(
                    id=t.id,
                    client_id=t.client_id,
                    created_at=int(t.created_at.timestamp()),
                    last_used=int(t.last_used.timestamp()),
                )
                for t in self._tokens(request.user_id, context, None)
            ]
        )

    def RevokeRefresh(self, request: pb.RevokeRefreshReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "revoke refresh"):
            return self._revoke(request, context)

    def _revoke(self, request: pb.RevokeRefreshReq, context: grpc.ServicerContext) -> Any:
        if not request.client_id:
            invalid("no client ID supplied")
        revoked = 0
        for t in self._tokens(request.user_id, context, request.client_id):
            try:
                self.storage.delete_refresh_token(t.id)
            except NotFoundError:
                continue
            revoked += 1
            until = datetime.now(UTC) + self.access_token_lifetime + GRANT_REVOCATION_MARGIN
            record_grant_revoked(self.storage, t.id, until)
        if revoked:
            self._changed(context, "refresh.revoke", f"user:{request.user_id}")
        return pb.RevokeRefreshResp(not_found=revoked == 0)
