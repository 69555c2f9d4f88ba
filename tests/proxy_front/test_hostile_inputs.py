"""Hostile requests through the real nginx in front of ``dex-py proxy``: forged identity headers,
tampered, truncated and oversized session cookies, open redirects in ``rd`` and CR/LF
injection. Each case has an honest twin that must work, so a broken setup cannot pass."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests

from tests.proxy_front.conftest import Stack
from tests.proxy_front.stack import BROWSER_ACCEPT, log_in
from tests.proxy_front.upstream_app import FORGED_IDENTITY, received_headers

pytestmark = [pytest.mark.ldap, pytest.mark.live]


@pytest.fixture
def bob(stack: Stack) -> Iterator[tuple[str, requests.Session]]:
    """nginx + proxy for client ``a`` and bob logged in there: (front URL, browser)."""
    stack.nginx("a")
    front = stack.clients["a"].front
    browser, page = log_in(front, "bob", "bob-secret")
    assert page.status_code == 200, stack.logs()
    yield front, browser


def session_cookies(browser: requests.Session) -> dict[str, str]:
    return {c.name: c.value for c in browser.cookies if c.name.startswith("_dexpy_a")}


def sends_to_login(resp: requests.Response) -> bool:
    return resp.status_code == 302 and "/oauth2/start" in resp.headers.get("Location", "")


def test_forged_identity_headers_never_reach_the_app(bob: tuple[str, requests.Session]) -> None:
    front, browser = bob
    resp = browser.get(front + "/hello", headers=FORGED_IDENTITY, timeout=10)
    assert resp.status_code == 200
    seen = received_headers(resp.json())
    assert seen["x-auth-request-email"] == ["bob@example.org"]
    assert seen["x-auth-request-groups"] == ["developers"]
    assert seen["x-auth-request-preferred-username"] == ["bob"]
    assert "mallory" not in seen["x-auth-request-user"][0]

    anonymous = requests.get(
        front + "/hello",
        headers=FORGED_IDENTITY | BROWSER_ACCEPT,
        allow_redirects=False,
        timeout=10,
    )
    assert sends_to_login(anonymous), anonymous.status_code


def with_cookie(front: str, cookies: dict[str, str]) -> requests.Response:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return requests.get(
        front + "/hello", headers={"Cookie": header}, allow_redirects=False, timeout=10
    )


def flip(value: str, index: int) -> str:
    swapped = "A" if value[index] != "A" else "B"
    return value[:index] + swapped + value[index + 1 :]


def test_tampered_truncated_and_oversized_cookies_mean_login_again(
    bob: tuple[str, requests.Session],
) -> None:
    front, browser = bob
    cookies = session_cookies(browser)
    assert cookies, "the proxy set no session cookie"
    assert with_cookie(front, cookies).status_code == 200  # the honest cookie works
    name, value = next(iter(cookies.items()))
    for index in (0, len(value) // 2, len(value) - 1):
        assert sends_to_login(with_cookie(front, {**cookies, name: flip(value, index)}))
    assert sends_to_login(with_cookie(front, {**cookies, name: value[: len(value) // 2]}))
    assert sends_to_login(with_cookie(front, {**cookies, name: ""}))
    # Chunks that are not ours, up to what nginx forwards.
    big = {name: "x" * 3000, f"{name}_0": "y" * 3000, f"{name}_1": "z" * 3000}
    assert sends_to_login(with_cookie(front, big))
    # Past nginx's header limit (4 x 16k) nginx answers itself; nothing may answer 200 or 5xx.
    huge = with_cookie(front, {name: "x" * 70_000})
    assert huge.status_code in (302, 400, 431), huge.status_code


def redirect_after_login(front: str, browser: requests.Session, rd: str) -> str:
    """Start a login with ``rd`` (the issuer knows the user: no form) and return where the
    proxy's callback finally sends the browser."""
    resp = browser.get(f"{front}/oauth2/start?rd={rd}", allow_redirects=False, timeout=10)
    for _ in range(10):
        assert resp.is_redirect, (resp.status_code, resp.text[:300])
        location = resp.headers["Location"]
        assert "\r" not in location and "\n" not in location
        if resp.url.startswith(front + "/oauth2/callback"):
            return location
        resp = browser.get(urljoin(resp.url, location), allow_redirects=False, timeout=10)
    raise AssertionError("the login did not come back through the callback")


@pytest.mark.parametrize(
    "rd",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "https://evil.example/x",
        "http://127.0.0.1:1/x",
        "http://127.0.0.1:{port}@evil.example/x",
        "/%0d%0aSet-Cookie:%20injected=1",
        "http://evil.example%2F@127.0.0.1:{port}/x",
        "javascript:alert(1)",
    ],
)
def test_rd_never_leaves_the_app(bob: tuple[str, requests.Session], rd: str) -> None:
    front, browser = bob
    port = urlsplit(front).port
    target = redirect_after_login(front, browser, quote(rd.format(port=port), safe=""))
    absolute = urljoin(front + "/", target.replace("\\", "/"))  # browsers read \ as /
    assert urlsplit(absolute).netloc == urlsplit(front).netloc, target
    assert "injected" not in "".join(c.name for c in browser.cookies)


def test_rd_to_the_app_itself_is_kept(bob: tuple[str, requests.Session]) -> None:
    front, browser = bob
    target = redirect_after_login(front, browser, quote(front + "/deep/page?q=1", safe=""))
    assert urljoin(front + "/", target) == front + "/deep/page?q=1"


def test_crlf_in_the_path_splits_no_header(bob: tuple[str, requests.Session]) -> None:
    front, browser = bob
    resp = browser.get(front + "/hello%0d%0aX-Injected:%201", timeout=10)
    assert resp.status_code == 200
    assert "x-injected" not in received_headers(resp.json())
    assert "X-Injected" not in resp.headers
    anonymous = requests.get(
        front + "/a%0d%0aSet-Cookie:%20evil=1", allow_redirects=False, timeout=10
    )
    assert sends_to_login(anonymous)
    assert "evil" not in anonymous.headers.get("Set-Cookie", "")
    assert "\n" not in anonymous.headers["Location"]
