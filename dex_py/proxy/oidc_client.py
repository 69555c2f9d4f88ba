"""The auth proxy as an OpenID Connect relying party: discovery (OpenID Connect Discovery 1.0
§4), the authorization request with PKCE S256 (RFC 7636), state and nonce, the code exchange
and refresh at the token endpoint (RFC 6749 §4.1.3, §6; client_secret_basic) and the
RP-Initiated Logout URL (RP-Initiated Logout 1.0 §2).

The HTTP client is one pooled ``aiohttp.ClientSession`` per worker, with the issuer's private CA
when ``issuerCAFile`` is set. A refused grant is ``GrantRefused`` (the session ends); a network
error or a 5xx answer is ``IssuerUnavailable`` (the session is kept while its ID token lasts).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from dex_py.proxy.config import ProxyConfig

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)


class IssuerUnavailable(RuntimeError):
    """The issuer could not be reached or answered 5xx."""


class GrantRefused(ValueError):
    """The token endpoint refused the code or refresh token (``error`` is its code)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    access_token: str
    refresh_token: str


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.metadata: ProviderMetadata | None = None
        self._http: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            ssl_context: ssl.SSLContext | bool = True
            if self.config.issuer_ca_file:
                ssl_context = ssl.create_default_context(cafile=self.config.issuer_ca_file)
            self._http = aiohttp.ClientSession(
                timeout=TIMEOUT, connector=aiohttp.TCPConnector(ssl=ssl_context, limit=32)
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self.http().get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise IssuerUnavailable(f"GET {url}: HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise IssuerUnavailable(f"GET {url}: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise IssuerUnavailable(f"GET {url}: not a JSON object")
        return body

    async def discover(self) -> ProviderMetadata:
        doc = await self._get_json(self.config.issuer + "/.well-known/openid-configuration")
        if str(doc.get("issuer", "")).rstrip("/") != self.config.issuer:
            raise IssuerUnavailable("discovery names another issuer")
        try:
            meta = ProviderMetadata(
                issuer=self.config.issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                end_session_endpoint=str(doc.get("end_session_endpoint") or ""),
            )
        except KeyError as exc:
            raise IssuerUnavailable(f"discovery lacks {exc.args[0]}") from None
        self.metadata = meta
        return meta

    async def fetch_jwks(self) -> dict[str, Any]:
        meta = self.metadata or await self.discover()
        return await self._get_json(meta.jwks_uri)

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        assert self.metadata is not None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_url,
                "scope": " ".join(self.config.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in self.metadata.authorization_endpoint else "?"
        return self.metadata.authorization_endpoint + sep + query

    def end_session_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str:
        assert self.metadata is not None
        params = {"client_id": self.config.client_id}
        if id_token:
            params["id_token_hint"] = id_token
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        endpoint = self.metadata.end_session_endpoint
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    async def _token_request(self, form: dict[str, str]) -> TokenResponse:
        meta = self.metadata or await self.discover()
        auth = aiohttp.BasicAuth(self.config.client_id, self.config.client_secret)
        try:
            async with self.http().post(
                meta.token_endpoint, data=form, auth=auth, allow_redirects=False
            ) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise IssuerUnavailable(f"token endpoint: {type(exc).__name__}") from exc
        except ValueError:
            raise IssuerUnavailable("token endpoint: not JSON") from None
        if status >= 500:
            raise IssuerUnavailable(f"token endpoint: HTTP {status}")
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise GrantRefused(str(error or f"http_{status}"))
        if not isinstance(body.get("id_token"), str):
            raise GrantRefused("no_id_token")
        return TokenResponse(
            id_token=body["id_token"],
            access_token=str(body.get("access_token") or ""),
            refresh_token=str(body.get("refresh_token") or ""),
        )

    async def exchange_code(self, code: str, code_verifier: str) -> TokenResponse:
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_url,
                "code_verifier": code_verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenResponse:
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
