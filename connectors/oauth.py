"""The generic OAuth 2.0 connector (Dex type ``oauth``) and the small OAuth 2.0 client it shares
with the GitLab connector.

The login is the authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, ``S256``; a server
that does not know PKCE ignores the extra parameters, RFC 6749 §3.1). The client authenticates to
the token endpoint with HTTP Basic (§2.3.1) and, if the server answers ``invalid_client``, once
more with the credentials in the request body, as Dex's OAuth library does. The user is read from
``userInfoURL`` with the access token as a Bearer token (RFC 6750 §2.1); which JSON member holds
what is configurable (``userIDKey``, ``claimMapping``).

Groups (only when the client asked for the ``groups`` scope) come from the ``groupsKey`` member of
the user info and, like Dex, of the access token's payload when the access token is a JWT. A
groups value is a list whose items are strings or objects with a string ``name``; anything else
is ignored.

With ``offline_access`` the upstream tokens are kept as ``connector_data``. ``refresh`` uses the
upstream refresh token (RFC 6749 §6) and re-reads the user; when the upstream issued no refresh
token the identity from the login is kept unchanged, as Dex does for this connector.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import ssl
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConnectorConfigError,
    ConnectorError,
    Identity,
    RefreshConnector,
    Scopes,
    get_logger,
    key,
    parse_config,
)

__all__ = [
    "OAuth2ClaimMapping",
    "OAuth2Client",
    "OAuth2Connector",
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


# --- the shared OAuth 2.0 client ---------------------------------------------------------------


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


# --- the generic OAuth 2.0 connector ----------------------------------------------------------

_DEFAULT_KEYS = {
    "userIDKey": "id",
    "userNameKey": "user_name",
    "preferredUsernameKey": "preferred_username",
    "groupsKey": "groups",
    "emailKey": "email",
    "emailVerifiedKey": "email_verified",
}
_FIELD_OF = {  # YAML key -> dataclass field
    "userIDKey": "user_id_key",
    "userNameKey": "user_name_key",
    "preferredUsernameKey": "preferred_username_key",
    "groupsKey": "groups_key",
    "emailKey": "email_key",
    "emailVerifiedKey": "email_verified_key",
}


@dataclass(frozen=True)
class OAuth2ClaimMapping:
    """``claimMapping``: which user-info member holds what (Dex's nested form). Empty = default."""

    user_id_key: str = key("userIDKey", default="")
    user_name_key: str = key("userNameKey", default="")
    preferred_username_key: str = key("preferredUsernameKey", default="")
    groups_key: str = key("groupsKey", default="")
    email_key: str = key("emailKey", default="")
    email_verified_key: str = key("emailVerifiedKey", default="")


class OAuth2Connector(CallbackConnector, RefreshConnector):
    """Log in with any OAuth 2.0 server that has a user-info endpoint returning JSON."""

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``oauth`` connector. Each ``*Key`` may be given at the top level or
        under ``claimMapping`` (Dex puts ``userIDKey`` at the top and the others there).

        Example::

            connectors:
            - type: oauth
              id: myauth
              name: My Auth Server
              config:
                clientID: $MYAUTH_CLIENT_ID
                clientSecret: $MYAUTH_CLIENT_SECRET
                redirectURI: https://dex.example.com/dex/callback
                authorizationURL: https://auth.example.com/oauth2/authorize
                tokenURL: https://auth.example.com/oauth2/token
                userInfoURL: https://auth.example.com/userinfo
                scopes: [profile, email, groups]
                userIDKey: user_id
                claimMapping:
                  userNameKey: name
                  preferredUsernameKey: login
                  groupsKey: groups
                  emailKey: email
                  emailVerifiedKey: email_verified
        """

        client_id: str = key("clientID")
        authorization_url: str = key("authorizationURL")
        token_url: str = key("tokenURL")
        user_info_url: str = key("userInfoURL")
        client_secret: str = key("clientSecret", default="")
        redirect_uri: str = key("redirectURI", default="")  # default: the server's /callback
        scopes: tuple[str, ...] = key("scopes", default=())
        root_cas: tuple[str, ...] = key("rootCAs", default=())  # extra PEM files to trust
        insecure_skip_verify: bool = key("insecureSkipVerify", default=False)
        user_id_key: str = key("userIDKey", default="")
        user_name_key: str = key("userNameKey", default="")
        preferred_username_key: str = key("preferredUsernameKey", default="")
        groups_key: str = key("groupsKey", default="")
        email_key: str = key("emailKey", default="")
        email_verified_key: str = key("emailVerifiedKey", default="")
        claim_mapping: OAuth2ClaimMapping = key(  # noqa: RUF009 - a frozen dataclass
            "claimMapping", default_factory=OAuth2ClaimMapping
        )

        def claim_keys(self) -> dict[str, str]:
            """Every ``*Key`` resolved: ``claimMapping``, else top level, else the default."""
            resolved = {}
            for name, default in _DEFAULT_KEYS.items():
                nested = getattr(self.claim_mapping, _FIELD_OF[name])
                top = getattr(self, _FIELD_OF[name])
                resolved[name] = nested or top or default
            return resolved

        def validate(self) -> list[tuple[str, str]]:
            errors: list[tuple[str, str]] = []
            if not self.client_id:
                errors.append(("clientID", "must not be empty"))
            for name, value in (
                ("authorizationURL", self.authorization_url),
                ("tokenURL", self.token_url),
                ("userInfoURL", self.user_info_url),
            ):
                check_http_url(value, name, errors)
            if self.redirect_uri:
                check_http_url(self.redirect_uri, "redirectURI", errors)
            for name in _DEFAULT_KEYS:
                nested = getattr(self.claim_mapping, _FIELD_OF[name])
                top = getattr(self, _FIELD_OF[name])
                if nested and top and nested != top:
                    errors.append((f"claimMapping.{name}", f"conflicts with top-level {name}"))
            return errors

    def __init__(
        self,
        config: OAuth2Connector.Config,
        *,
        connector_id: str = "oauth",
        logger: logging.Logger | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        self._config = config
        self._keys = config.claim_keys()
        if config.insecure_skip_verify:
            self._log.warning("connector %s: insecureSkipVerify is set", connector_id)
        self._client = OAuth2Client(
            label="oauth",
            client_id=config.client_id,
            client_secret=config.client_secret,
            authorization_url=config.authorization_url,
            token_url=config.token_url,
            session=session or http_session(config.root_cas, config.insecure_skip_verify),
            logger=self._log,
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
        self._client.session.close()

    def check(self) -> None:
        self._client.check()

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        redirect_uri = self._config.redirect_uri or callback_url
        return self._client.start(self._config.scopes, redirect_uri, state)

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        tokens = self._client.exchange(request, login_state)
        return self._identity(scopes, tokens)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        if not identity.connector_data:
            return identity
        tokens = Tokens.from_connector_data(identity.connector_data, "oauth")
        if not tokens.refresh_token:
            return identity  # nothing to refresh with: keep what the login saw (as Dex does)
        return self._identity(scopes, self._client.refresh(tokens.refresh_token))

    def _identity(self, scopes: Scopes, tokens: Tokens) -> Identity:
        info = self._client.get_json(self._config.user_info_url, tokens.access_token, "user info")
        k = self._keys
        user_id = info.get(k["userIDKey"])
        if isinstance(user_id, float) and user_id.is_integer():
            user_id = int(user_id)
        if isinstance(user_id, bool) or not isinstance(user_id, str | int | float):
            raise ConnectorError(f"oauth: the user info has no usable {k['userIDKey']!r} member")
        if user_id == "":
            raise ConnectorError(f"oauth: the user info has an empty {k['userIDKey']!r} member")
        groups: tuple[str, ...] = ()
        if scopes.groups:
            found = _group_names(info.get(k["groupsKey"]))
            found += _group_names(_jwt_payload(tokens.access_token).get(k["groupsKey"]))
            groups = tuple(dict.fromkeys(found))
        keep = scopes.offline_access and (tokens.refresh_token or tokens.access_token)
        return Identity(
            user_id=str(user_id),
            username=_string(info.get(k["userNameKey"])),
            preferred_username=_string(info.get(k["preferredUsernameKey"])),
            email=_string(info.get(k["emailKey"])),
            email_verified=info.get(k["emailVerifiedKey"]) is True,
            groups=groups,
            connector_data=tokens.to_connector_data() if keep else None,
        )


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _group_names(value: Any) -> list[str]:
    """Names from a list of strings or of objects with a string ``name``; others ignored."""
    if not isinstance(value, list):
        return []
    names = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("name")
        if isinstance(item, str) and item:
            names.append(item)
    return names


def _jwt_payload(token: str) -> dict[str, Any]:
    """The payload of a JWT-shaped access token, unverified: it came straight from the token
    endpoint over the back channel, as trusted as the user info. ``{}`` if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}
