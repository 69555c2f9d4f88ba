"""Log in through an upstream OpenID Provider: Dex's ``oidc`` connector.

The authorization code flow (OpenID Connect Core §3.1) with authlib's client: ``login_url`` sends
the browser upstream with ``state`` (the server's auth request id), a random ``nonce`` and, with
``pkceChallenge``, a PKCE S256 challenge (RFC 7636); both secrets travel in the opaque login
state. ``handle_callback`` exchanges the code and validates the ID token (see
``connectors.oidc_provider``); ``connector_data`` keeps the upstream refresh token, which
``refresh`` uses to re-read the user (RFC 6749 §6). ``token_identity`` accepts an upstream ID token
or access token for token exchange (RFC 8693). Config: ``connectors.oidc_config``; claims:
``connectors.oidc_claims``; docs: docs/connectors/oidc.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConnectorError,
    Identity,
    RefreshConnector,
    Scopes,
    TokenIdentityConnector,
    get_logger,
    parse_config,
)
from connectors.oidc_claims import identity_from_claims
from connectors.oidc_config import OIDCConfig
from connectors.oidc_provider import TIMEOUT, UpstreamProvider, get_json
from connectors.upstream_tls import remove_ca_bundle, tls_verify_setting

__all__ = ["ACCESS_TOKEN_TYPE", "ID_TOKEN_TYPE", "OIDCConnector"]

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_DESCRIPTION_LIMIT = 200


def _at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: left half of the hash of the access token, base64url."""
    bits = {"256": "sha256", "384": "sha384", "512": "sha512"}.get(alg[-3:], "sha512")
    digest = hashlib.new(bits, access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _token_alg(raw: str) -> str:
    header = raw.split(".", 1)[0]
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return str(decoded.get("alg", "")) if isinstance(decoded, dict) else ""


class OIDCConnector(CallbackConnector, RefreshConnector, TokenIdentityConnector):
    """An upstream OpenID Provider (``type: oidc``)."""

    Config = OIDCConfig

    def __init__(
        self,
        config: OIDCConfig,
        *,
        connector_id: str = "oidc",
        logger: logging.Logger | None = None,
        provider: UpstreamProvider | None = None,
    ) -> None:
        self.config = config
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        self._verify, self._ca_bundle = tls_verify_setting(
            config.root_cas, config.insecure_skip_verify
        )
        if config.insecure_skip_verify:
            self._log.warning(
                "insecureSkipVerify: TLS certificates of %s are NOT checked", config.issuer
            )
        http = requests.Session()
        http.verify = self._verify
        self.provider = provider or UpstreamProvider(
            config.issuer,
            http=http,
            log=self._log,
            overrides=config.provider_discovery_overrides,
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
        return cls(parse_config(cls.Config, config), connector_id=connector_id, logger=logger)

    def close(self) -> None:
        self.provider.close()
        remove_ca_bundle(self._ca_bundle)
        self._ca_bundle = None

    def check(self) -> None:
        self.provider.check()

    # --- talking to the token and userinfo endpoints --------------------------------------------

    def _oauth(self, redirect_uri: str | None = None) -> OAuth2Session:
        cfg = self.config
        if not cfg.client_secret:
            method = "none"
        elif cfg.basic_auth_unsupported:
            method = "client_secret_post"
        else:
            method = "client_secret_basic"
        session = OAuth2Session(
            cfg.client_id,
            cfg.client_secret or None,
            token_endpoint_auth_method=method,
            redirect_uri=redirect_uri,
            default_timeout=TIMEOUT,
        )
        session.verify = self._verify
        return session

    def _token_request(self, what: str, **params: Any) -> dict[str, Any]:
        """POST to the token endpoint (``code`` or ``refresh_token`` grant) via authlib."""
        url = self.provider.metadata().token_endpoint
        redirect_uri = params.pop("redirect_uri", None)
        with self._oauth(redirect_uri) as session:
            try:
                # verify per request: REQUESTS_CA_BUNDLE would override the session's own.
                if "refresh_token" in params:
                    token = session.refresh_token(url, verify=self._verify, **params)
                else:
                    token = session.fetch_token(
                        url, grant_type="authorization_code", verify=self._verify, **params
                    )
            except OAuthError as exc:
                self._log.warning("upstream %s failed: %s", what, exc.error)
                raise ConnectorError(
                    f"The identity provider refused the {what}: {exc.error}."
                ) from None
            except (requests.RequestException, ValueError) as exc:
                self._log.warning("upstream %s failed: %s", what, exc.__class__.__name__)
                raise ConnectorError(
                    f"The identity provider could not complete the {what}."
                ) from None
        if not isinstance(token, Mapping) or not isinstance(token.get("access_token"), str):
            raise ConnectorError(f"The identity provider sent an invalid {what} response.")
        return dict(token)

    def _userinfo(self, access_token: str) -> dict[str, Any]:
        url = self.provider.metadata().userinfo_endpoint
        if not url:
            raise ConnectorError("The identity provider has no userinfo endpoint.")
        claims = get_json(
            self.provider.http,
            url,
            what="userinfo",
            log=self._log,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if not isinstance(claims.get("sub"), str):
            raise ConnectorError("The identity provider's userinfo response has no subject.")
        return claims

    def _merge_userinfo(self, claims: dict[str, Any], access_token: str) -> dict[str, Any]:
        """OIDC Core §5.3.4: userinfo claims win, but ``sub`` must be the ID token's."""
        info = self._userinfo(access_token)
        if info["sub"] != claims.get("sub"):
            self._log.warning("userinfo sub does not match the ID token's sub")
            raise ConnectorError("The identity provider's userinfo is for another user.")
        return {**claims, **info}

    def _claims_from_tokens(self, token: Mapping[str, Any], *, nonce: str | None) -> dict[str, Any]:
        raw = token.get("id_token")
        access_token = str(token["access_token"])
        if isinstance(raw, str):
            claims = self.provider.verify_id_token(
                raw, client_id=self.config.client_id, nonce=nonce
            )
            at_hash = claims.get("at_hash")
            if isinstance(at_hash, str) and not hmac.compare_digest(
                at_hash, _at_hash(access_token, _token_alg(raw))
            ):
                raise ConnectorError("The identity provider's ID token is invalid: at_hash.")
            if self.config.get_user_info:
                claims = self._merge_userinfo(claims, access_token)
            return claims
        if nonce is not None:  # a login must return an ID token
            raise ConnectorError("The identity provider sent no ID token.")
        return self._userinfo(access_token)  # a refresh may omit the ID token

    @staticmethod
    def _connector_data(refresh_token: str, sub: str) -> bytes:
        return json.dumps({"refresh_token": refresh_token, "sub": sub}).encode("utf-8")

    # --- CallbackConnector --------------------------------------------------------------------

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        cfg = self.config
        meta = self.provider.metadata()
        redirect_uri = cfg.redirect_uri or callback_url
        nonce = secrets.token_urlsafe(24)
        scope = cfg.request_scopes
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": cfg.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "nonce": nonce,
        }
        if scopes.offline_access:
            supported = meta.scopes_supported
            if supported is None or "offline_access" in supported:
                scope = [*scope, "offline_access"]
            else:
                params["access_type"] = "offline"  # Google's way of asking for a refresh token
            if cfg.prompt:
                params["prompt"] = cfg.prompt
        params["scope"] = " ".join(dict.fromkeys(scope))
        if cfg.hosted_domains:
            params["hd"] = cfg.hosted_domains[0] if len(cfg.hosted_domains) == 1 else "*"
        if cfg.acr_values:
            params["acr_values"] = " ".join(cfg.acr_values)
        login_state: dict[str, str] = {"nonce": nonce, "redirect_uri": redirect_uri}
        if cfg.pkce_challenge:
            verifier = secrets.token_urlsafe(48)
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
            login_state["code_verifier"] = verifier
        endpoint = meta.authorization_endpoint
        url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
        return url, json.dumps(login_state).encode("utf-8")

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        args = request.args
        if args.get("error"):
            description = str(args.get("error_description", ""))[:_DESCRIPTION_LIMIT]
            self._log.info("upstream returned error %r: %s", args["error"], description)
            detail = f"{args['error']}: {description}" if description else str(args["error"])
            raise ConnectorError(f"The identity provider refused the login ({detail}).")
        try:
            saved = json.loads(login_state or b"")
        except ValueError:
            saved = None
        if not isinstance(saved, dict) or not isinstance(saved.get("nonce"), str):
            raise ConnectorError("This login has no saved state; please start again.")
        meta = self.provider.metadata()
        iss = args.get("iss")  # RFC 9207: defends against mix-up attacks
        if (iss is not None and iss != self.config.issuer) or (
            iss is None and meta.iss_parameter_supported
        ):
            raise ConnectorError("The login response came from an unexpected issuer.")
        code = args.get("code")
        if not code:
            raise ConnectorError("The identity provider sent no authorization code.")
        params: dict[str, Any] = {"code": code, "redirect_uri": saved.get("redirect_uri")}
        if isinstance(saved.get("code_verifier"), str):
            params["code_verifier"] = saved["code_verifier"]
        token = self._token_request("code exchange", **params)
        claims = self._claims_from_tokens(token, nonce=saved["nonce"])
        data = self._connector_data(str(token.get("refresh_token") or ""), claims["sub"])
        return identity_from_claims(self.config, claims, connector_data=data)

    # --- RefreshConnector ---------------------------------------------------------------------

    @staticmethod
    def _saved_refresh(data: bytes | None) -> tuple[str, str]:
        """(refresh token, upstream sub) from our connector data, or from Dex's
        ``{"RefreshToken": <base64>}`` so refresh tokens migrated from Dex keep working."""
        try:
            saved = json.loads(data or b"")
        except ValueError:
            saved = None
        if isinstance(saved, dict):
            if isinstance(saved.get("refresh_token"), str):
                return saved["refresh_token"], str(saved.get("sub") or "")
            if isinstance(saved.get("RefreshToken"), str):
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    return base64.b64decode(saved["RefreshToken"]).decode("utf-8"), ""
        return "", ""

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        refresh_token, sub = self._saved_refresh(identity.connector_data)
        if not refresh_token:
            raise ConnectorError("No upstream refresh token was kept; please log in again.")
        token = self._token_request("refresh", refresh_token=refresh_token)
        claims = self._claims_from_tokens(token, nonce=None)
        if sub and claims.get("sub") != sub:
            self._log.warning("upstream refresh returned another subject")
            raise ConnectorError("The identity provider returned another user on refresh.")
        new_refresh = str(token.get("refresh_token") or refresh_token)
        data = self._connector_data(new_refresh, str(claims["sub"]))
        return identity_from_claims(self.config, claims, connector_data=data)

    # --- TokenIdentityConnector ---------------------------------------------------------------

    def token_identity(self, subject_token_type: str, subject_token: str) -> Identity:
        if subject_token_type == ID_TOKEN_TYPE:
            claims = self.provider.verify_id_token(subject_token, client_id=self.config.client_id)
        elif subject_token_type == ACCESS_TOKEN_TYPE:
            claims = self._userinfo(subject_token)
        else:
            raise ConnectorError(f"Unsupported subject_token_type {subject_token_type!r}.")
        return identity_from_claims(self.config, claims, connector_data=None)
