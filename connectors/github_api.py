"""A small client for the parts of GitHub's REST API the ``github`` connector uses, plus the
code exchange of its OAuth web flow, done with authlib's client
(https://docs.github.com/en/rest, https://docs.github.com/en/apps/oauth-apps).

It speaks to github.com (``api.github.com``) or a GitHub Enterprise Server host
(``https://<host>/api/v3``), follows ``Link: <...>; rel="next"`` pagination, and turns every
failure into a ``ConnectorError`` whose message is safe to show a user (no tokens, no secrets).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from connectors.base import ConnectorError

__all__ = ["GitHubAPI", "GitHubEndpoints"]

TIMEOUT = 10.0
"""Seconds to wait for GitHub on each request."""

MAX_PAGES = 50
"""Stop following ``rel="next"`` after this many pages (100 items each)."""

_API_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "dex-py",
}


class GitHubEndpoints:
    """Where the OAuth web flow and the REST API live for one GitHub host.

    ``host_name`` empty means github.com; otherwise a GitHub Enterprise Server host name
    (optionally with ``:port``). ``root_ca`` is a PEM file that verifies the host's TLS
    certificate (empty: the system's trust store)."""

    def __init__(self, host_name: str = "", root_ca: str = "") -> None:
        if host_name:
            self.oauth_base = f"https://{host_name}"
            self.api_base = f"https://{host_name}/api/v3"
        else:
            self.oauth_base = "https://github.com"
            self.api_base = "https://api.github.com"
        self.verify: str | bool = root_ca or True
        self.display_host = host_name or "github.com"

    @property
    def authorize_url(self) -> str:
        return self.oauth_base + "/login/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.oauth_base + "/login/oauth/access_token"


class GitHubAPI:
    """One conversation with GitHub; use as a context manager (it owns a ``requests.Session``).
    ``access_token`` may be empty for the token exchange and the health check."""

    def __init__(self, endpoints: GitHubEndpoints, log: logging.Logger, access_token: str = ""):
        self._ep = endpoints
        self._log = log
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "dex-py"
        self._token = access_token

    def __enter__(self) -> GitHubAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    # --- OAuth web flow --------------------------------------------------------------------

    def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> str:
        """Trade an authorization ``code`` for an access token with authlib's client
        (``POST /login/oauth/access_token``, credentials in the body, ``Accept:
        application/json``); return the token."""
        with OAuth2Session(
            client_id, client_secret, token_endpoint_auth_method="client_secret_post"
        ) as oauth:
            oauth.headers["User-Agent"] = "dex-py"
            oauth.register_compliance_hook("access_token_response", self._checked_token)
            try:
                body = oauth.fetch_token(
                    self._ep.token_url,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    timeout=TIMEOUT,
                    allow_redirects=False,
                    # per request: a Session's verify would lose to REQUESTS_CA_BUNDLE
                    verify=self._ep.verify,
                )
            except requests.RequestException as exc:
                self._log.warning("GitHub token request failed: %s", exc)
                raise ConnectorError(
                    f"GitHub ({self._ep.display_host}) could not be reached."
                ) from None
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorError("GitHub's token endpoint returned no access token.")
        self._token = token
        return token

    def _checked_token(self, resp: requests.Response) -> requests.Response:
        """authlib compliance hook: GitHub reports a bad code or bad client credentials with
        HTTP 200 and an ``error`` member; every unusable answer becomes a ``ConnectorError``."""
        body = _json(resp, "the token endpoint")
        if not isinstance(body, dict):
            raise ConnectorError("GitHub's token endpoint answered something unusable.")
        if body.get("error"):
            self._log.warning("GitHub token exchange failed: %s", body.get("error"))
            detail = str(body.get("error_description") or body["error"])[:200]
            raise ConnectorError(f"GitHub refused the login: {detail}")
        if resp.status_code != 200:
            raise ConnectorError(f"GitHub's token endpoint answered HTTP {resp.status_code}.")
        # Only the token goes on to authlib (an odd expires_in would make it raise).
        resp._content = json.dumps({"access_token": body.get("access_token")}).encode()
        return resp

    # --- REST API --------------------------------------------------------------------------

    def get(self, path: str) -> Any:
        """``GET <api><path>`` as JSON."""
        resp = self._send("GET", self._ep.api_base + path, auth=True)
        self._raise_for_status(resp, path)
        return _json(resp, path)

    def get_all(self, path: str) -> list[Any]:
        """Every item of a paginated list, following ``rel="next"`` links."""
        url: str | None = self._ep.api_base + path + ("&" if "?" in path else "?") + "per_page=100"
        items: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            resp = self._send("GET", url, auth=True)
            self._raise_for_status(resp, path)
            page = _json(resp, path)
            if not isinstance(page, list):
                raise ConnectorError(f"GitHub's {path} did not return a list.")
            items.extend(page)
            url = self._next_link(resp, path)
        raise ConnectorError(f"GitHub's {path} has more than {MAX_PAGES} pages.")

    def ping(self, timeout: float) -> None:
        """Raise ``ConnectorError`` unless the API answers (``GET /rate_limit``, which costs no
        rate limit; GitHub Enterprise without rate limiting answers 404, which is fine)."""
        try:
            resp = self._session.get(
                self._ep.api_base + "/rate_limit",
                headers=_API_HEADERS,
                timeout=timeout,
                verify=self._ep.verify,
            )
        except requests.RequestException as exc:
            self._log.warning("GitHub health check failed: %s", exc)
            raise ConnectorError(f"GitHub ({self._ep.display_host}) is unreachable.") from None
        if resp.status_code >= 500:
            raise ConnectorError(
                f"GitHub ({self._ep.display_host}) answered HTTP {resp.status_code}."
            )

    # --- plumbing --------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, *, auth: bool = False, accept: str = "", **kw: Any
    ) -> requests.Response:
        headers = dict(_API_HEADERS) if auth else {"User-Agent": "dex-py"}
        if accept:
            headers["Accept"] = accept
        if auth:
            if not self._token:
                raise ConnectorError("No GitHub access token; log in again.")
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            return self._session.request(
                method,
                url,
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=False,
                # per request: a Session's verify would lose to REQUESTS_CA_BUNDLE
                verify=self._ep.verify,
                **kw,
            )
        except requests.RequestException as exc:
            # The exception text names the URL, never the token (it travels in a header).
            self._log.warning("GitHub request %s %s failed: %s", method, _path_of(url), exc)
            raise ConnectorError(
                f"GitHub ({self._ep.display_host}) could not be reached."
            ) from None

    def _raise_for_status(self, resp: requests.Response, path: str) -> None:
        if resp.status_code == 200:
            return
        message = ""
        try:
            body = resp.json()
            if isinstance(body, dict):
                message = str(body.get("message") or "")[:200]
        except ValueError:
            pass
        self._log.info("GitHub %s answered HTTP %s: %s", path, resp.status_code, message)
        if resp.status_code == 401:
            raise ConnectorError(
                "GitHub no longer accepts the access token (it was revoked or expired); "
                "log in again."
            )
        if resp.status_code == 403:
            raise ConnectorError(f"GitHub refused access to {path}: {message or 'forbidden'}")
        raise ConnectorError(f"GitHub's {path} answered HTTP {resp.status_code}.")

    def _next_link(self, resp: requests.Response, path: str) -> str | None:
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return None
        # Never send the access token anywhere but the configured API host.
        base = urlsplit(self._ep.api_base)
        target = urlsplit(nxt)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            self._log.warning("GitHub %s: ignoring a next link to another host", path)
            raise ConnectorError(f"GitHub's {path} sent a pagination link to another host.")
        return nxt


def _json(resp: requests.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise ConnectorError(f"GitHub's {what} did not answer JSON.") from None


def _path_of(url: str) -> str:
    return urlsplit(url).path
