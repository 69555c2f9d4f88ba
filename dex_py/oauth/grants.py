"""Token-endpoint grants: authorization code + PKCE (RFC 6749 §4.1.3, RFC 7636 §4.6) and
resource owner password (RFC 6749 §4.3); the refresh token grant lives in ``refresh``, client
credentials and token exchange in ``machine_grants``, the base class in ``grant_base``, and all
are registered in ``token_endpoint``.

Each grant is a small class that reads its parameters, loads and checks its credential, and
asks ``issuance`` for tokens. Rules shared by all grants live in ``policy``;
``token_endpoint.GRANTS`` is the one registry, filtered by ``oauth2.grantTypes`` there.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any

from connectors.base import ConnectorError
from dex_py import revocation, second_factor
from dex_py import scopes as sc
from dex_py.auth_codes import MAX_CODE_LENGTH, Replayed, check_redemption, check_verifier_format
from dex_py.errors import InvalidGrant, ServerError
from dex_py.oauth import issuance
from dex_py.oauth.grant_base import BaseGrant
from dex_py.oauth.policy import check_issue_policy
from dex_py.ops.audit import FAILURE, audit, request_ip
from dex_py.ops.metrics import count_event
from dex_py.storage.base import AuthCode, NotFoundError, RefreshToken

log = logging.getLogger(__name__)


class AuthorizationCodeGrant(BaseGrant):
    grant_type = "authorization_code"

    def respond(self) -> dict[str, Any]:
        code_value = self.require("code")
        redirect_uri = self.require("redirect_uri")
        verifier = self.form.get("code_verifier", "")
        check_verifier_format(verifier)
        svc, client = self.svc, self.client
        now = svc.clock.now()
        refresh_id = secrets.token_urlsafe(16)
        jti = secrets.token_urlsafe(16)

        def redeem(code: AuthCode) -> AuthCode:
            check_redemption(
                code, client_id=client.id, redirect_uri=redirect_uri, verifier=verifier, now=now
            )
            return replace(
                code,
                used_at=now,
                issued_refresh_token_id=refresh_id if sc.OFFLINE_ACCESS in code.scopes else "",
                issued_access_token_id=jti,
                issued_access_token_expiry=now + svc.config.expiry.access_token_lifetime,
            )

        issued: dict[str, Any] = {}

        def issue(code: AuthCode) -> RefreshToken | None:
            """Inside the transaction that marks the code used: the policy checks, and the
            refresh token chain stored with it (or nothing of either)."""
            grant = issuance.grant_of(code)
            if code.issued_refresh_token_id:
                grant = replace(
                    grant, grant_id=revocation.grant_id_of(code.issued_refresh_token_id)
                )
            check_issue_policy(svc, self.treq, grant)
            issued["grant"] = grant
            if not code.issued_refresh_token_id:
                return None
            record, issued["refresh"] = issuance.refresh_token_record(
                svc, grant, now, code.issued_refresh_token_id
            )
            return record

        if len(code_value) > MAX_CODE_LENGTH:
            raise InvalidGrant("invalid code")
        try:
            svc.storage.redeem_auth_code(code_value, redeem, issue)
        except NotFoundError:
            raise InvalidGrant("invalid or expired code") from None
        except Replayed as replay:
            self._revoke_issued(replay.code)
            raise InvalidGrant("code already used") from None

        grant = issued["grant"]
        refresh = issued.get("refresh", "")
        access = issuance.access_token(svc, grant, now, jti=jti)
        return issuance.token_response(
            svc, grant, now, refresh_token=refresh, access=access, include_auth_time=True
        )

    def _revoke_issued(self, code: AuthCode) -> None:
        """RFC 6749 §4.1.2: a replayed code revokes the tokens its first use issued: the
        refresh token chain with every access token issued under it, and the first one."""
        storage = self.svc.storage
        log.warning("authorization code replay for client %s: revoking its tokens", code.client_id)
        audit("code_replay", FAILURE, client=code.client_id, user=code.claims.user_id)
        if code.issued_refresh_token_id:
            revocation.revoke_grant(self.svc, code.issued_refresh_token_id)
        if code.issued_access_token_id and code.issued_access_token_expiry:
            storage.revoke_access_token(
                code.issued_access_token_id, code.issued_access_token_expiry
            )


class PasswordGrant(BaseGrant):
    grant_type = "password"

    def respond(self) -> dict[str, Any]:
        svc = self.svc
        username = self.require("username")
        password = self.require("password")
        scopes = sc.parse(self.form.get("scope", "openid"))
        connector_id = svc.config.oauth2.password_connector
        entry = svc.connectors.get(connector_id) if connector_id else None
        pw = entry.password() if entry is not None else None
        if entry is None or pw is None:
            raise InvalidGrant("the password grant has no password connector configured")
        address = request_ip()
        guard = svc.login_guard
        admission = guard.admit(connector_id, username, address)
        if not admission.allowed:
            # RFC 6749 §5.2 has no "too many attempts" code; invalid_grant with its own text,
            # the same whether or not the user exists.
            raise InvalidGrant("too many failed attempts; try again later")
        try:
            identity = pw.login(sc.for_connector(scopes), username, password)
        except ConnectorError as exc:
            log.warning("password grant: connector %s failed: %s", connector_id, exc)
            raise ServerError("the identity provider is unavailable") from None
        if identity is None:
            for limit in guard.failed(connector_id, username, address):
                count_event("dexpy_login_locks_total", limit=limit)
            raise InvalidGrant("invalid username or password")
        guard.succeeded(connector_id, username, address)
        claims = second_factor.first_factor(
            issuance.claims_of(svc, connector_id, identity), password=True
        )
        if svc.second_factors.needed(self.client.id, claims, connector_id, ""):
            # no way to ask for a second factor here: this user logs in through the browser
            raise InvalidGrant("this user must log in with a second factor")
        now = svc.clock.now()
        grant = issuance.Grant(
            client_id=self.client.id,
            scopes=scopes,
            claims=claims,
            connector_id=connector_id,
            auth_time=now,
            connector_data=identity.connector_data,
        )
        refresh_id = secrets.token_urlsafe(16) if sc.OFFLINE_ACCESS in scopes else ""
        if refresh_id:
            grant = replace(grant, grant_id=revocation.grant_id_of(refresh_id))
        check_issue_policy(svc, self.treq, grant)
        refresh = ""
        if refresh_id:
            refresh = issuance.new_refresh_token(svc, grant, now, refresh_id)
        return issuance.token_response(svc, grant, now, refresh_token=refresh)
