"""The small OAuth 2.0 client shared by the ``oauth`` and ``gitlab`` connectors.

``OAuth2Client`` runs the authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, ``S256``;
a server that does not know PKCE ignores the extra parameters, RFC 6749 §3.1) and the refresh grant
(§6). It authenticates to the token endpoint with HTTP Basic (§2.3.1) and, if the server answers
``invalid_client``, once more with the credentials in the request body, as Dex's OAuth library
does. ``get_json`` reads a resource with the access token as a Bearer token (RFC 6750 §2.1).

Also here: ``Tokens`` (the upstream tokens kept as ``connector_data``), ``http_session`` (TLS with
extra ``rootCAs``), the per-login state helpers, ``check_http_url`` for config validation, and
``OAuth2ClientConnector``, the ``open``/``close``/``check`` of a connector built on one client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import ssl
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from connectors.base import (
    CallbackRequest,
    ConfiguredConnector,
    ConnectorConfigError,
    ConnectorError,
)

__all__ = [
    "OAuth2Client",
    "OAuth2ClientConnector",
    "Tokens",
    "callback_code",
    "check_http_url",
    "http_session",
    "pack_login_state",
    "unpack_login_state",
]

TIMEOUT = 10.0  # seconds, per upstream request
CHECK_TIMEOUT = 3.0
_MAX_SHOWN = 200  # characters of upstream-provided text shown to the user


@dataclass(frozen=True)
class Tokens:
    """The upstream's tokens, as kept in ``connector_data`` (JSON ``accessToken``,
    ``refreshToken``: the same shape Dex stores for GitLab)."""

    access_token: str
    refresh_token: str = ""

    def to_connector_data(self) -> bytes:
        data = {"accessToken": self.access_token, "refreshToken": self.refresh_token}
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_connector_data(cls, data: bytes | None, label: str) -> Tokens:
        try:
            obj = json.loads(data or b"")
        except ValueError:
            raise ConnectorError(f"{label}: no upstream token is stored for this session") from None
        if not isinstance(obj, dict):
            raise ConnectorError(f"{label}: no upstream token is stored for this session")
        access, refresh = obj.get("accessToken", ""), obj.get("refreshToken", "")
        if not isinstance(access, str) or not isinstance(refresh, str) or not (access or refresh):
            raise ConnectorError(f"{label}: no upstream token is stored for this session")
        return cls(access, refresh)


class _TLSAdapter(HTTPAdapter):
    """Verifies TLS with our own SSL context (system roots plus ``rootCAs``), or not at all.
    It ignores requests' ``verify`` (which ``REQUESTS_CA_BUNDLE`` can silently override)."""

    def __init__(self, context: ssl.SSLContext, *, verify: bool) -> None:
        self._context = context
        self._cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        host, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pool: dict[str, Any] = dict(pool_kwargs)
        pool.pop("ca_certs", None)
        pool.pop("ca_cert_dir", None)
        pool["ssl_context"] = self._context
        pool["cert_reqs"] = self._cert_reqs
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, False, cert)  # the pool kwargs above decide
        conn.cert_reqs = self._cert_reqs


def http_session(
    root_cas: Sequence[str] = (), insecure_skip_verify: bool = False, path: str = "config"
) -> requests.Session:
    """A ``requests`` session trusting the system roots plus the PEM files ``root_cas`` (Dex's
    ``rootCAs``), or verifying nothing with ``insecure_skip_verify``. Unreadable files raise
    ``ConnectorConfigError`` naming ``<path>.rootCAs[i]``."""
    session = requests.Session()
    session.headers["User-Agent"] = "dex-py"
    if not root_cas and not insecure_skip_verify:
        return session
    context = ssl.create_default_context()
    errors: list[tuple[str, str]] = []
    for i, ca in enumerate(root_cas):
        try:
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError, ValueError) as exc:
            errors.append((f"{path}.rootCAs[{i}]", f"cannot load CA file {ca!r}: {exc}"))
    if errors:
        raise ConnectorConfigError(errors)
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        # The operator chose this (and the connector logs it once); urllib3 would otherwise
        # warn on every request.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    session.mount("https://", _TLSAdapter(context, verify=not insecure_skip_verify))
    return session


def check_http_url(value: str, name: str, errors: list[tuple[str, str]]) -> None:
    """Append an error unless ``value`` is an absolute http(s) URL."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append((name, "must be an absolute http:// or https:// URL"))


def _shown(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def callback_code(label: str, request: CallbackRequest) -> str:
    """The ``code`` of the upstream's redirect (RFC 6749 §4.1.2), or ``ConnectorError`` for an
    error response (§4.1.2.1) or a missing code."""
    error = request.args.get("error", "")
    if error:
        description = request.args.get("error_description", "")
        detail = f"{error}: {description}" if description else error
        raise ConnectorError(f"{label}: the upstream refused the login ({_shown(detail)})")
    code = request.args.get("code", "")
    if not code:
        raise ConnectorError(f"{label}: the upstream did not return an authorization code")
    return code


def pack_login_state(verifier: str, redirect_uri: str) -> bytes:
    """The per-login state kept by the server: PKCE verifier and the redirect URI used."""
    return json.dumps({"verifier": verifier, "redirectURI": redirect_uri}).encode()


def unpack_login_state(label: str, login_state: bytes | None) -> tuple[str, str]:
    try:
        obj = json.loads(login_state or b"")
        verifier, redirect_uri = obj["verifier"], obj["redirectURI"]
    except (ValueError, KeyError, TypeError):
        raise ConnectorError(f"{label}: this login was not started here; start again") from None
    if not isinstance(verifier, str) or not isinstance(redirect_uri, str):
        raise ConnectorError(f"{label}: this login was not started here; start again")
    return verifier, redirect_uri


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class OAuth2Client:
    """An OAuth 2.0 client of one authorization server. Every failure is a ``ConnectorError``
    whose message starts with ``label`` and never contains a token or secret."""

    def __init__(
        self,
        *,
        label: str,
        client_id: str,
        client_secret: str,
        authorization_url: str,
        token_url: str,
        session: requests.Session,
        logger: logging.Logger,
        timeout: float = TIMEOUT,
    ) -> None:
        self.label = label
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorization_url = authorization_url
        self.token_url = token_url
        self.session = session
        self._log = logger
        self._timeout = timeout

    def start(
        self, scopes: Sequence[str], redirect_uri: str, state: str
    ) -> tuple[str, bytes | None]:
        """The authorization URL (§4.1.1, with a fresh PKCE challenge) and the login state."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params = {
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        if scopes:
            params["scope"] = " ".join(scopes)
        url = _with_query(self._authorization_url, params)
        return url, pack_login_state(verifier, redirect_uri)

    def exchange(self, request: CallbackRequest, login_state: bytes | None) -> Tokens:
        """Finish the login: check the redirect and redeem its code (§4.1.3)."""
        verifier, redirect_uri = unpack_login_state(self.label, login_state)
        code = callback_code(self.label, request)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        return self._token_request(form)

    def refresh(self, refresh_token: str) -> Tokens:
        """Use the refresh token (§6); an omitted new refresh token means keep the old one."""
        tokens = self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return tokens if tokens.refresh_token else Tokens(tokens.access_token, refresh_token)

    def _token_request(self, form: dict[str, str]) -> Tokens:
        resp = self._post_token(form, basic=bool(self._client_secret))
        retry = resp.status_code in (400, 401) and bool(self._client_secret)
        if retry and _json_error(resp) == "invalid_client":
            resp = self._post_token(form, basic=False)
        if resp.status_code != 200:
            error = _json_error(resp)
            self._log.warning(
                "%s: token endpoint answered HTTP %s (%s)",
                self.label,
                resp.status_code,
                error or "no error code",
            )
            if error:
                raise ConnectorError(
                    f"{self.label}: the token request was refused ({_shown(error)})"
                )
            raise ConnectorError(
                f"{self.label}: the token request failed (HTTP {resp.status_code})"
            )
        data = _token_body(resp)
        if data is None:
            raise ConnectorError(f"{self.label}: the token response is not valid JSON")
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ConnectorError(f"{self.label}: the token response has no access_token")
        refresh = data.get("refresh_token")
        return Tokens(access, refresh if isinstance(refresh, str) else "")

    def _post_token(self, form: dict[str, str], *, basic: bool) -> requests.Response:
        body = dict(form)
        auth: tuple[str, str] | None = None
        if basic:  # §2.3.1: both parts form-urlencoded before Basic encoding
            auth = (quote(self._client_id, safe=""), quote(self._client_secret, safe=""))
        else:
            body["client_id"] = self._client_id
            if self._client_secret:
                body["client_secret"] = self._client_secret
        try:
            return self.session.post(
                self.token_url,
                data=body,
                auth=auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self._log.warning("%s: token endpoint unreachable: %s", self.label, type(exc).__name__)
            raise ConnectorError(f"{self.label}: cannot reach the upstream") from None

    def get_json(self, url: str, access_token: str, what: str) -> dict[str, Any]:
        """GET ``url`` with the Bearer token; the JSON object it returns."""
        try:
            resp = self.session.get(
                url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self._log.warning("%s: %s unreachable: %s", self.label, what, type(exc).__name__)
            raise ConnectorError(f"{self.label}: cannot reach the upstream") from None
        if resp.status_code == 401:
            raise ConnectorError(f"{self.label}: the upstream rejected the access token ({what})")
        if resp.status_code != 200:
            self._log.warning("%s: %s answered HTTP %s", self.label, what, resp.status_code)
            raise ConnectorError(
                f"{self.label}: the {what} request failed (HTTP {resp.status_code})"
            )
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ConnectorError(f"{self.label}: the {what} response is not a JSON object")
        return data

    def check(self) -> None:
        """Any answer below 500 from the token endpoint's host means it is reachable."""
        try:
            resp = self.session.get(self.token_url, timeout=CHECK_TIMEOUT, allow_redirects=False)
        except requests.RequestException:
            raise ConnectorError(f"{self.label}: cannot reach the upstream") from None
        if resp.status_code >= 500:
            raise ConnectorError(f"{self.label}: the upstream answers HTTP {resp.status_code}")


def _json_error(resp: requests.Response) -> str:
    data = _token_body(resp)
    error = data.get("error") if data else None
    return error if isinstance(error, str) else ""


def _token_body(resp: requests.Response) -> dict[str, Any] | None:
    """A token endpoint's body: JSON (§5.1), or form-encoded as some older servers send it."""
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in ("application/x-www-form-urlencoded", "text/plain"):
        return dict(parse_qsl(resp.text))
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class OAuth2ClientConnector(ConfiguredConnector):
    """``open``, ``close`` and ``check`` of a connector whose upstream is the ``OAuth2Client`` in
    ``self._client``."""

    _client: OAuth2Client

    def close(self) -> None:
        self._client.session.close()

    def check(self) -> None:
        self._client.check()
