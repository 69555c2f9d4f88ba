"""Getting a token for kubectl: the cached ID token while it has more than 30 s left, else the
refresh token (RFC 6749 §6), else a login (authcode, device code or password grant).

Everything after the first cache read runs under the entry's lock, and the cache is read again
once the lock is held: a second kubectl invocation that waited for the first one's login finds
its tokens instead of logging in too. The network modules are imported only on that path.
"""

from __future__ import annotations

import os
import sys
import time

from dex_py.kubelogin.cache import CachedTokens, TokenCache, cache_key
from dex_py.kubelogin.errors import LoginError, OAuthError

TYPE_CHECKING = False  # typing itself is not imported on kubectl's hot path
if TYPE_CHECKING:
    from typing import Any

    from dex_py.kubelogin.oidc import Issuer

MIN_LIFETIME = 30  # seconds a cached ID token must still be valid to be handed out
BASE_SCOPES = ("openid", "email", "profile", "groups", "offline_access")
GRANT_TYPES = ("auto", "authcode", "device-code", "password")
TERMINAL_BROWSERS = ("www-browser", "links", "elinks", "lynx", "w3m")  # no good for a login


class NotInteractive(LoginError):
    """A login is needed but the user may not be asked."""


class LoginOptions:
    """The options of ``dex-py kube login``."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        cache_dir: str,
        *,
        client_secret: str = "",
        grant_type: str = "auto",
        username: str = "",
        password: str = "",
        extra_scopes: list[str] | None = None,
        listen_address: str = "127.0.0.1:0",
        skip_open_browser: bool = False,
        ca_file: str = "",
        insecure: bool = False,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.cache_dir = cache_dir
        self.client_secret = client_secret
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.extra_scopes = list(extra_scopes or [])
        self.listen_address = listen_address
        self.skip_open_browser = skip_open_browser
        self.ca_file = ca_file
        self.insecure = insecure

    @property
    def scopes(self) -> list[str]:
        return list(dict.fromkeys([*BASE_SCOPES, *self.extra_scopes]))


def _usable(entry: CachedTokens | None) -> CachedTokens | None:
    """``entry`` if its ID token has more than ``MIN_LIFETIME`` seconds left."""
    if entry is not None and entry.expires_at - time.time() > MIN_LIFETIME:
        return entry
    return None


def get_token(opts: LoginOptions, *, interactive: bool) -> CachedTokens:
    """A usable ID token, from the cache, a refresh or (``interactive`` permitting) a login."""
    cache = TokenCache(opts.cache_dir)
    key = cache_key(opts.issuer, opts.client_id, opts.scopes)
    cached = _usable(cache.read(key))
    if cached is not None:
        return cached
    with cache.locked(key):
        entry = cache.read(key)
        cached = _usable(entry)
        if cached is not None:
            return cached
        from dex_py.kubelogin.oidc import Issuer

        issuer = Issuer(
            opts.issuer, opts.client_id, opts.client_secret, opts.ca_file, opts.insecure
        )
        if entry is not None and entry.refresh_token:
            try:
                answer = issuer.token(
                    {"grant_type": "refresh_token", "refresh_token": entry.refresh_token}
                )
            except OAuthError as exc:
                if exc.error != "invalid_grant":  # the issuer's trouble: keep the refresh token
                    raise LoginError(f"refreshing the token failed: {exc}") from None
                cache.delete(key)
                _say(f"the refresh token was not accepted ({exc.error}); logging in again")
            else:
                return _store(cache, key, answer, entry.refresh_token)
        answer = _login(opts, issuer, interactive=interactive)
        _say(f"logged in to {opts.issuer} as client {opts.client_id}")
        return _store(cache, key, answer, "")


def _store(cache: TokenCache, key: str, answer: dict[str, Any], old_refresh: str) -> CachedTokens:
    from dex_py.kubelogin.claims import id_token_expiry

    try:
        expires_at = id_token_expiry(answer["id_token"])
    except ValueError as exc:
        raise LoginError(str(exc)) from None
    refresh = answer.get("refresh_token")
    tokens = CachedTokens(
        answer["id_token"], expires_at, refresh if isinstance(refresh, str) else old_refresh
    )
    cache.write(key, tokens)
    return tokens


def browser_available() -> bool:
    """Can a graphical browser open here? (``auto`` picks authcode then, the device flow not.)"""
    if sys.platform in ("darwin", "win32"):
        return True
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return getattr(browser, "name", "") not in TERMINAL_BROWSERS


def _login(opts: LoginOptions, issuer: Issuer, *, interactive: bool) -> dict[str, Any]:
    if opts.grant_type == "password":
        from dex_py.kubelogin import password

        may_prompt = interactive and sys.stdin.isatty()
        return password.login(
            issuer, opts.scopes, opts.username, opts.password, may_prompt=may_prompt
        )
    if not interactive:
        raise NotInteractive(
            "no valid cached token for "
            f"{opts.issuer} and kubectl runs this plugin non-interactively (interactive: false), "
            "so it may not ask you to log in. Run `dex-py kube login` with the same options in a "
            "terminal first, or use --grant-type password with --username and --password"
        )
    grant = opts.grant_type
    if grant == "auto":
        grant = "authcode" if browser_available() else "device-code"
    if grant == "device-code":
        from dex_py.kubelogin import device

        return device.login(issuer, opts.scopes)
    from dex_py.kubelogin import authcode

    return authcode.login(
        issuer,
        opts.scopes,
        listen_address=opts.listen_address,
        open_browser=not opts.skip_open_browser,
    )


def _say(message: str) -> None:
    print(f"dex-py kube login: {message}", file=sys.stderr, flush=True)
