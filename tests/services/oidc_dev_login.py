"""Logs a user in at the test upstream provider (``oidc_upstream``) without a browser.

The provider's development login page (oidc-provider's ``devInteractions``) takes any username
and ignores the password. ``dev_login`` starts from an authorization request URL (OpenID Connect
Core 1.0 section 3.1.2.1), follows the redirects itself, fills in the login form and, if one is
shown, submits the consent form, and returns the first redirect to ``redirect_uri`` (the
authorization response, section 3.1.2.5) without fetching it.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

TIMEOUT = 10


class _Form(HTMLParser):
    """The first ``<form>`` of a page: its action and its named inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and not self._done:
            self.action, self._inside = values.get("action", ""), True
        elif tag == "input" and self._inside and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside, self._done = False, True


def dev_login(
    auth_url: str,
    redirect_uri: str,
    username: str = "alice",
    password: str = "any",
    session: requests.Session | None = None,
    max_steps: int = 20,
) -> str:
    """Log ``username`` in and return the redirect to ``redirect_uri`` (with code/error).

    Pass ``session`` to keep the provider's session cookie between logins (single sign-on).
    """
    http = session or requests.Session()
    response = http.get(auth_url, allow_redirects=False, timeout=TIMEOUT)
    for _ in range(max_steps):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if target.startswith(redirect_uri):
                return target
            response = http.get(target, allow_redirects=False, timeout=TIMEOUT)
            continue
        response.raise_for_status()
        form = _Form()
        form.feed(response.text)
        if not form.action or "prompt" not in form.fields:
            raise RuntimeError(f"not a login or consent page: {response.text[:300]!r}")
        data = dict(form.fields)
        if data["prompt"] == "login":
            data.update(login=username, password=password)
        response = http.post(
            urljoin(response.url, form.action), data=data, allow_redirects=False, timeout=TIMEOUT
        )
    raise RuntimeError(f"no redirect to {redirect_uri} after {max_steps} steps")
