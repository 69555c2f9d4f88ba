"""``dex-py example-app``: a small OpenID Connect relying party for trying out an issuer.

It plays the part of Dex's example app: a home page to pick scopes (and a connector or cross-client
audience), the authorization code flow with PKCE S256, state and nonce (OpenID Connect Core 1.0
§3.1, RFC 7636), an ID token verified independently of the issuer's own code (signature against
``jwks_uri``, ``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``; Core §3.1.3.7), the UserInfo
response (Core §5.3) and a button that redeems the refresh token (RFC 6749 §6).

It is a demo tool: werkzeug's server, a per-process random session key, pages without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import Flask, Response, abort, redirect, render_template, request, session
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet
from werkzeug.wrappers import Response as WerkzeugResponse

from dex_py.resources import resource_dir
from dex_py.web.csrf import csrf_token, csrf_valid

log = logging.getLogger(__name__)

OPTIONAL_SCOPES = ("profile", "email", "groups", "offline_access")
DEFAULT_SCOPES = ("profile", "email", "groups", "offline_access")
CLOCK_SKEW = 60  # seconds of leeway for exp/iat
HTTP_TIMEOUT = 10  # seconds for every call to the issuer

STYLESHEET = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #1d2330; background: #f7f8fa; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
pre { background: #fff; border: 1px solid #d6dae1; padding: .75rem; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; }
fieldset { border: 1px solid #d6dae1; background: #fff; margin-bottom: 1rem; }
label { display: block; margin: .3rem 0; }
input[type=text] { width: 100%; max-width: 30rem; padding: .3rem; }
button { padding: .45rem 1.1rem; font-size: 1rem; cursor: pointer; }
.error { border-left: 4px solid #c0392b; background: #fff; padding: .5rem 1rem; }
"""


class IssuerError(Exception):
    """The issuer could not be reached or answered something unusable."""


class TokenError(Exception):
    """An ID token failed verification."""


class _Issuer:
    """The issuer's discovery document and JWKS, fetched lazily and cached."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            resp = requests.get(url, timeout=HTTP_TIMEOUT)
            resp.raise_for_status()
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise IssuerError(f"cannot fetch {url}: {exc}") from exc
        if not isinstance(data, dict):
            raise IssuerError(f"{url} did not return a JSON object")
        return data

    @property
    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = self.issuer + "/.well-known/openid-configuration"
                data = self._get_json(url)
                if data.get("issuer") != self.issuer:
                    raise IssuerError(
                        f"discovery issuer {data.get('issuer')!r} does not match {self.issuer!r}"
                    )
                self._metadata = data
            return self._metadata

    def key_set(self, *, refresh: bool = False) -> KeySet:
        jwks_uri = self.metadata["jwks_uri"]
        with self._lock:
            if self._keys is None or refresh:
                data = self._get_json(jwks_uri)
                try:
                    self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise IssuerError(f"bad JWKS at {jwks_uri}: {exc}") from exc
            return self._keys


def _half_hash(value: str, alg: str) -> str:
    """``at_hash``: left half of the hash named by the JWS alg, base64url (Core §3.1.3.6)."""
    name = {"256": "sha256", "384": "sha384", "512": "sha512"}.get(alg[-3:], "sha512")
    digest = hashlib.new(name, value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _key_by_kid(keys: KeySet, kid: str) -> Key | None:
    return next((k for k in keys.keys if k.get("kid") == kid), None)


def verify_id_token(
    token: str,
    provider: _Issuer,
    *,
    client_id: str,
    nonce: str | None,
    access_token: str | None,
) -> dict[str, Any]:
    """Verify ``token`` per OpenID Connect Core §3.1.3.7 and return its claims."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenError(f"malformed ID token: {exc}") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if not alg or alg == "none":
        raise TokenError("ID token is unsigned")
    key = _key_by_kid(provider.key_set(), kid) if kid else None
    if key is None:  # maybe the issuer rotated its keys
        key = _key_by_kid(provider.key_set(refresh=True), kid) if kid else None
    if key is None:
        raise TokenError(f"no key {kid!r} in the issuer's JWKS")
    if key.get("alg") and key.get("alg") != alg:
        raise TokenError(f"token alg {alg} does not match the key's alg {key.get('alg')}")
    try:
        claims = json.loads(jws.deserialize_compact(token, key, algorithms=[alg]).payload)
    except (JoseError, ValueError) as exc:
        raise TokenError(f"bad ID token signature: {exc}") from exc

    now = time.time()
    if claims.get("iss") != provider.issuer:
        raise TokenError(f"iss {claims.get('iss')!r} is not {provider.issuer!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise TokenError(f"aud {aud!r} does not include {client_id!r}")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise TokenError(f"azp {claims.get('azp')!r} is not {client_id!r}")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] + CLOCK_SKEW < now:
        raise TokenError("ID token expired")
    if not isinstance(claims.get("iat"), int | float) or claims["iat"] - CLOCK_SKEW > now:
        raise TokenError("ID token issued in the future")
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise TokenError("nonce does not match the one sent")
    if (
        access_token
        and "at_hash" in claims
        and not hmac.compare_digest(str(claims["at_hash"]), _half_hash(access_token, alg))
    ):
        raise TokenError("at_hash does not match the access token")
    return claims


def _scopes_from_form(form: Any) -> list[str]:
    scopes = ["openid"] + [s for s in OPTIONAL_SCOPES if form.get(s)]
    scopes += form.get("extra_scopes", "").split()
    scopes += [f"audience:server:client_id:{c}" for c in form.get("cross_client", "").split()]
    return list(dict.fromkeys(scopes))  # keep order, drop duplicates


# Forms post back a token minted under a random secret kept in the session (dex_py.web.csrf).
_CSRF_PURPOSE = b"example-app-form"


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return csrf_token(str(session["csrf"]), _CSRF_PURPOSE)


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not csrf_valid(str(session.get("csrf", "")), _CSRF_PURPOSE, sent):
        abort(400, "Bad or missing CSRF token; reload the page and try again.")


def create_example_app(issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> Flask:
    """Build the example relying party (a Flask app) for ``client_id`` at ``issuer``."""
    app = Flask(__name__, template_folder=str(resource_dir("templates")), static_folder=None)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(
        SESSION_COOKIE_NAME="dexpy_example_app",  # must not clash with the issuer's cookie
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=redirect_uri.startswith("https:"),
    )
    provider = _Issuer(issuer)
    callback_path = urlsplit(redirect_uri).path or "/callback"

    def oauth(**kwargs: Any) -> OAuth2Session:
        return OAuth2Session(
            client_id,
            client_secret,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
            default_timeout=HTTP_TIMEOUT,
            **kwargs,
        )

    def error_page(title: str, message: str, status: int) -> tuple[str, int]:
        return render_template("example_app/error.html", title=title, message=message), status

    def tokens_page(token: dict[str, Any], *, nonce: str | None, title: str) -> str:
        id_token = token.get("id_token")
        claims = None
        if id_token:
            claims = verify_id_token(
                id_token,
                provider,
                client_id=client_id,
                nonce=nonce,
                access_token=token.get("access_token"),
            )
        userinfo: Any = None
        userinfo_url = provider.metadata.get("userinfo_endpoint")
        if userinfo_url and token.get("access_token"):
            try:
                with oauth(token=dict(token)) as client:
                    resp = client.get(userinfo_url)
                userinfo = resp.json()
            except (OAuthError, requests.RequestException, ValueError) as exc:
                userinfo = {"error": f"UserInfo request failed: {exc}"}
        return render_template(
            "example_app/tokens.html",
            title=title,
            claims=json.dumps(claims, indent=2, sort_keys=True) if claims else None,
            id_token=id_token,
            access_token=token.get("access_token"),
            refresh_token=token.get("refresh_token"),
            userinfo=json.dumps(userinfo, indent=2, sort_keys=True) if userinfo else None,
            csrf_token=_csrf_token(),
        )

    @app.errorhandler(IssuerError)
    def issuer_error(exc: IssuerError) -> tuple[str, int]:
        log.warning("issuer problem: %s", exc)
        return error_page("Issuer unreachable", f"{provider.issuer}: {exc}", 502)

    @app.errorhandler(TokenError)
    def token_error(exc: TokenError) -> tuple[str, int]:
        log.warning("ID token rejected: %s", exc)
        return error_page("Invalid ID token", str(exc), 502)

    @app.errorhandler(400)
    def bad_request(exc: Any) -> tuple[str, int]:
        return error_page("Bad request", getattr(exc, "description", str(exc)), 400)

    @app.get("/")
    def home() -> str:
        return render_template(
            "example_app/home.html",
            issuer=provider.issuer,
            client_id=client_id,
            optional_scopes=OPTIONAL_SCOPES,
            default_scopes=DEFAULT_SCOPES,
            csrf_token=_csrf_token(),
        )

    @app.post("/login")
    def login() -> WerkzeugResponse:
        _check_csrf()
        authorization_endpoint = provider.metadata["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        extra: dict[str, str] = {"nonce": nonce}
        connector_id = request.form.get("connector_id", "").strip()
        if connector_id:
            extra["connector_id"] = connector_id
        with oauth(scope=" ".join(_scopes_from_form(request.form))) as client:
            url, _ = client.create_authorization_url(
                authorization_endpoint, state=state, code_verifier=verifier, **extra
            )
        session["flow"] = {"state": state, "nonce": nonce, "verifier": verifier}
        return redirect(url, code=303)

    @app.get(callback_path)
    def callback() -> Any:
        flow = session.pop("flow", None)  # one callback per login, whatever its outcome
        if "error" in request.args:
            return error_page(
                f"The issuer returned an error: {request.args['error']}",
                request.args.get("error_description", ""),
                400,
            )
        state = request.args.get("state", "")
        if not flow or not hmac.compare_digest(state, flow["state"]):
            abort(400, "The state parameter does not match a login started here.")
        code = request.args.get("code")
        if not code:
            abort(400, "The callback carries no authorization code.")
        try:
            with oauth() as client:
                token = client.fetch_token(
                    provider.metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=flow["verifier"],
                )
        except (OAuthError, requests.RequestException) as exc:
            return error_page("Code exchange failed", str(exc), 502)
        return tokens_page(dict(token), nonce=flow["nonce"], title="Logged in")

    @app.post("/refresh")
    def refresh() -> Any:
        _check_csrf()
        refresh_token = request.form.get("refresh_token", "")
        if not refresh_token:
            abort(400, "No refresh token to redeem.")
        try:
            with oauth() as client:
                token = client.refresh_token(
                    provider.metadata["token_endpoint"], refresh_token=refresh_token
                )
        except (OAuthError, requests.RequestException) as exc:
            return error_page("Refresh failed", str(exc), 502)
        return tokens_page(dict(token), nonce=None, title="Refreshed tokens")

    @app.get("/style.css")
    def style() -> Response:
        return Response(STYLESHEET, mimetype="text/css")

    return app


def run(*, issuer: str, client_id: str, client_secret: str, listen: str, redirect_uri: str) -> None:
    """Serve the example app on ``listen`` (``host:port``) with werkzeug until interrupted."""
    from werkzeug.serving import run_simple

    host, _, port = listen.rpartition(":")
    app = create_example_app(issuer, client_id, client_secret, redirect_uri)
    logging.basicConfig(level=logging.INFO)
    log.info("example app for %s on http://%s/ (redirect URI %s)", issuer, listen, redirect_uri)
    run_simple(host.strip("[]") or "127.0.0.1", int(port), app, threaded=True)
