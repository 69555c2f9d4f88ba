"""Talking to an upstream OAuth 2.0 server with authlib's requests client.

``OAuth2Upstream`` is what the ``oauth`` and ``gitlab`` connectors need of one authorization
server, on authlib's ``OAuth2Session``: the authorization URL with ``state`` and a PKCE S256
challenge (RFC 6749 §4.1.1, RFC 7636), the code exchange (§4.1.3) and the refresh grant (§6),
authenticating with HTTP Basic (§2.3.1) and, if the server answers ``invalid_client``, once more
with the credentials in the body, as Dex's OAuth library does; and resource reads with the access
token as a Bearer token (RFC 6750 §2.1). Every failure is a ``ConnectorError`` whose message
starts with the connector's label and never contains a token or secret.

Also here: ``Tokens`` (the upstream tokens kept as ``connector_data``), the per-login state,
``callback_code`` and ``check_http_url`` for config validation. TLS settings come from
``connectors.upstream_tls`` and travel with every request as ``verify``.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session

from connectors.base import CallbackRequest, ConfiguredConnector, ConnectorError
from connectors.upstream_tls import remove_ca_bundle

__all__ = [
    "OAuth2Upstream",
    "OAuth2UpstreamConnector",
    "Tokens",
    "callback_code",
    "check_http_url",
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


def check_http_url(value: str, name: str, errors: list[tuple[str, str]]) -> None:
    """Append an error unless ``value`` is an absolute http(s) URL."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append((name, "must be an absolute http:// or https:// URL"))


def shown(text: str) -> str:
    """Upstream-provided text made safe to show: one line, at most ``_MAX_SHOWN`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def callback_code(label: str, request: CallbackRequest) -> str:
    """The ``code`` of the upstream's redirect (RFC 6749 §4.1.2), or ``ConnectorError`` for an
    error response (§4.1.2.1) or a missing code."""
    error = request.args.get("error", "")
    if error:
        description = request.args.get("error_description", "")
        detail = f"{error}: {description}" if description else error
        raise ConnectorError(f"{label}: the upstream refused the login ({shown(detail)})")
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


def _basic_form_encoded(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """authlib client auth ``client_secret_basic`` with both parts form-urlencoded before the
    Basic encoding, as RFC 6749 §2.3.1 asks (authlib's own sends them raw)."""
    text = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
    headers["Authorization"] = "Basic " + base64.b64encode(text.encode()).decode("ascii")
    return uri, headers, body


class _Refused(Exception):
    """The token endpoint answered something other than HTTP 200."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error


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


class OAuth2Upstream:
    """One authorization server, reached with authlib's ``OAuth2Session`` (see the module
    docstring). ``verify`` is the value from ``upstream_tls.tls_verify_setting``."""

    def __init__(
        self,
        *,
        label: str,
        client_id: str,
        client_secret: str,
        authorization_url: str,
        token_url: str,
        verify: bool | str,
        logger: logging.Logger,
        timeout: float = TIMEOUT,
    ) -> None:
        self.label = label
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorization_url = authorization_url
        self.token_url = token_url
        self.verify = verify
        self.session = requests.Session()  # resource reads and the health check
        self.session.headers["User-Agent"] = "dex-py"
        self._log = logger
        self._timeout = timeout

    def _oauth(self, method: str) -> OAuth2Session:
        """A fresh authlib session per grant (authlib sessions keep the last token: not shared
        between threads)."""
        session = OAuth2Session(
            self._client_id,
            self._client_secret or None,
            token_endpoint_auth_method=method,
            code_challenge_method="S256",
        )
        session.headers["User-Agent"] = "dex-py"
        session.register_client_auth_method(("client_secret_basic", _basic_form_encoded))
        session.register_compliance_hook("access_token_response", self._checked)
        session.register_compliance_hook("refresh_token_response", self._checked)
        return session

    def start(
        self, scopes: Sequence[str], redirect_uri: str, state: str
    ) -> tuple[str, bytes | None]:
        """The authorization URL (§4.1.1, with a fresh PKCE challenge) and the login state."""
        verifier = secrets.token_urlsafe(48)
        with self._oauth("none") as session:
            url, _ = session.create_authorization_url(
                self._authorization_url,
                state=state,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                scope=" ".join(scopes) if scopes else None,
            )
        return url, pack_login_state(verifier, redirect_uri)

    def exchange(self, request: CallbackRequest, login_state: bytes | None) -> Tokens:
        """Finish the login: check the redirect and redeem its code (§4.1.3)."""
        verifier, redirect_uri = unpack_login_state(self.label, login_state)
        code = callback_code(self.label, request)
        return self._grant(
            lambda s: s.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=verifier,
                timeout=self._timeout,
                allow_redirects=False,
                verify=self.verify,
            )
        )

    def refresh(self, refresh_token: str) -> Tokens:
        """Use the refresh token (§6); an omitted new refresh token means keep the old one."""
        return self._grant(
            lambda s: s.refresh_token(
                self.token_url,
                refresh_token=refresh_token,
                timeout=self._timeout,
                allow_redirects=False,
                verify=self.verify,
            )
        )

    def _grant(self, call: Any) -> Tokens:
        method = "client_secret_basic" if self._client_secret else "none"
        try:
            token = self._call(method, call)
        except _Refused as exc:
            retry = exc.status in (400, 401) and exc.error == "invalid_client"
            if not (retry and self._client_secret):
                raise self._refusal(exc) from None
            try:
                token = self._call("client_secret_post", call)
            except _Refused as again:
                raise self._refusal(again) from None
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ConnectorError(f"{self.label}: the token response has no access_token")
        refresh = token.get("refresh_token")
        return Tokens(access, refresh if isinstance(refresh, str) else "")

    def _call(self, method: str, call: Any) -> dict[str, Any]:
        with self._oauth(method) as session:
            try:
                return dict(call(session))
            except requests.RequestException as exc:
                self._log.warning(
                    "%s: token endpoint unreachable: %s", self.label, type(exc).__name__
                )
                raise ConnectorError(f"{self.label}: cannot reach the upstream") from None

    def _checked(self, resp: requests.Response) -> requests.Response:
        """authlib compliance hook on token responses: anything but HTTP 200 is ``_Refused``;
        a form-encoded body becomes JSON; a body that is neither is a ``ConnectorError``. An
        HTTP 200 answer is judged by its tokens alone, so authlib is handed only those (a stray
        ``error`` or an odd ``expires_in`` would make it raise)."""
        data = _token_body(resp)
        if resp.status_code != 200:
            error = data.get("error") if data else None
            raise _Refused(resp.status_code, error if isinstance(error, str) else "")
        if data is None:
            raise ConnectorError(f"{self.label}: the token response is not valid JSON")
        kept = {k: data[k] for k in ("access_token", "refresh_token", "token_type") if k in data}
        resp._content = json.dumps(kept).encode()
        resp.headers["Content-Type"] = "application/json"
        return resp

    def _refusal(self, exc: _Refused) -> ConnectorError:
        self._log.warning(
            "%s: token endpoint answered HTTP %s (%s)",
            self.label,
            exc.status,
            exc.error or "no error code",
        )
        if exc.error:
            detail = shown(exc.error)
            return ConnectorError(f"{self.label}: the token request was refused ({detail})")
        return ConnectorError(f"{self.label}: the token request failed (HTTP {exc.status})")

    def get_json(self, url: str, access_token: str, what: str) -> dict[str, Any]:
        """GET ``url`` with the Bearer token (authlib's token auth); the JSON object returned."""
        try:
            resp = self.session.get(
                url,
                auth=OAuth2Auth({"access_token": access_token, "token_type": "Bearer"}),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
                verify=self.verify,
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
            resp = self.session.get(
                self.token_url,
                timeout=CHECK_TIMEOUT,
                allow_redirects=False,
                verify=self.verify,
            )
        except requests.RequestException:
            raise ConnectorError(f"{self.label}: cannot reach the upstream") from None
        if resp.status_code >= 500:
            raise ConnectorError(f"{self.label}: the upstream answers HTTP {resp.status_code}")


class OAuth2UpstreamConnector(ConfiguredConnector):
    """``close`` and ``check`` of a connector whose upstream is the ``OAuth2Upstream`` in
    ``self._client`` (``self._ca_bundle``: a bundle from ``tls_verify_setting`` to delete)."""

    _client: OAuth2Upstream
    _ca_bundle: str | None = None

    def close(self) -> None:
        self._client.session.close()
        remove_ca_bundle(self._ca_bundle)
        self._ca_bundle = None

    def check(self) -> None:
        self._client.check()
