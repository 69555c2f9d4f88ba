"""The proxy against a real dex-py issuer: a full login through /oauth2/start -> issuer ->
/oauth2/callback, then /oauth2/auth (202 with identity headers, 403 outside the team, 401
without a cookie), bearer tokens, sign-out with RP-Initiated Logout, back-channel logout ending
a server-side session, callback replay, and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.cookie_jar import read_value
from dex_py.proxy.session import decode
from tests.live import ADMIN_EMAIL, LiveServer
from tests.login_flow import example_client, parse_page, pkce_login
from tests.proxy.helpers import SECRET
from tests.proxy.live_proxy import ProxyProcess, browser_login, issuer_for_proxies
from tests.services import free_port

pytestmark = [pytest.mark.live]
NAME = "_dexpy_proxy"


class Setup:
    def __init__(self, issuer: LiveServer, server_side: ProxyProcess, cookie: ProxyProcess):
        self.issuer = issuer
        self.server_side = server_side  # session.store: memory, back-channel logout
        self.cookie = cookie  # session.store: cookie, bearer tokens for example-app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    port_a, port_b = free_port(), free_port()
    issuer = issuer_for_proxies(
        {"dex-py-proxy": port_a, "proxy-cookie": port_b}, tmp_path_factory.mktemp("issuer")
    )
    proxies: list[ProxyProcess] = []
    try:
        a = ProxyProcess(
            issuer.issuer,
            "dex-py-proxy",
            port_a,
            session={"store": "memory"},
            backchannelLogout=True,
        )
        proxies.append(a)
        b = ProxyProcess(
            issuer.issuer,
            "proxy-cookie",
            port_b,
            bearer={"enabled": True, "audiences": ["example-app"]},
        )
        proxies.append(b)
        a.wait_ready()
        b.wait_ready()
        yield Setup(issuer, a, b)
    finally:
        for proxy in proxies:
            proxy.stop()
        issuer.stop()


def auth(proxy: ProxyProcess, browser: requests.Session | None = None, **headers: str):
    getter = browser or requests
    return getter.get(
        f"{proxy.url}/oauth2/auth", headers={"X-Forwarded-Uri": "/app", **headers}, timeout=10
    )


@pytest.mark.parametrize("which", ["server_side", "cookie"])
def test_login_then_auth_answers_202_with_identity(setup: Setup, which: str) -> None:
    proxy: ProxyProcess = getattr(setup, which)
    assert auth(proxy).status_code == 401
    browser, answer = browser_login(proxy, rd="/app?x=1")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/app?x=1"
    set_cookie = answer.headers.get("Set-Cookie", "")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    ok = auth(proxy, browser, **{"X-Auth-Request-Email": "forged@evil.com"})
    assert ok.status_code == 202, ok.text
    assert ok.headers["X-Auth-Request-Email"] == ADMIN_EMAIL
    assert "admins" in ok.headers["X-Auth-Request-Groups"].split(",")
    assert ok.headers["X-Auth-Request-User"]
    info = browser.get(f"{proxy.url}/oauth2/userinfo", timeout=10).json()
    assert info["email"] == ADMIN_EMAIL and "admins" in info["groups"]
    assert requests.get(f"{proxy.url}/oauth2/userinfo", timeout=10).status_code == 401


def test_a_user_outside_the_team_gets_403(setup: Setup) -> None:
    browser, answer = browser_login(setup.cookie, credentials=None, chooser="/auth/mock")
    assert answer.status_code == 302
    assert auth(setup.cookie, browser).status_code == 403
    assert auth(setup.cookie, browser, **{"X-Forwarded-Uri": "/healthz"}).status_code == 202


def test_bearer_tokens(setup: Setup) -> None:
    token, _ = pkce_login(
        setup.issuer, example_client(), "openid email groups", ADMIN_EMAIL, "password"
    )
    id_token = token["id_token"]
    ok = auth(setup.cookie, Authorization=f"Bearer {id_token}")
    assert ok.status_code == 202
    assert ok.headers["X-Auth-Request-Email"] == ADMIN_EMAIL
    head, payload, signature = id_token.split(".")
    tampered = f"{head}.{payload[:-4]}AAAA.{signature}"
    assert auth(setup.cookie, Authorization=f"Bearer {tampered}").status_code == 401
    # The proxy's own login ID token has audience proxy-cookie, not example-app.
    browser, _ = browser_login(setup.cookie)
    cookies = {c.name: c.value for c in browser.cookies}
    sealed = read_value(cookies, NAME)
    assert sealed
    plain = CookieCipher((SECRET.encode(),)).open(NAME, sealed, max_age=3600)
    session = decode(plain or b"")
    assert session is not None
    wrong_aud = auth(setup.cookie, Authorization=f"Bearer {session.id_token}")
    assert wrong_aud.status_code == 401
    # A server without bearer tokens enabled ignores them: not logged in.
    assert auth(setup.server_side, Authorization=f"Bearer {id_token}").status_code == 401


def test_callback_state_mismatch_and_replay_are_refused(setup: Setup) -> None:
    proxy = setup.cookie
    browser = requests.Session()
    start = browser.get(f"{proxy.url}/oauth2/start", allow_redirects=False, timeout=10)
    from tests.login_flow import follow_login

    callback = follow_login(
        browser,
        browser.get(start.headers["Location"], allow_redirects=False, timeout=10),
        back_to_client=lambda loc: loc.startswith(proxy.url + "/oauth2/callback"),
        credentials=(ADMIN_EMAIL, "password"),
        chooser="/auth/local",
    )
    login_cookie = browser.cookies.get(NAME + "_login")
    query = parse_qs(urlsplit(callback).query)
    wrong = browser.get(
        f"{proxy.url}/oauth2/callback",
        params={"code": query["code"][0], "state": "not-the-state"},
        allow_redirects=False,
        timeout=10,
    )
    assert wrong.status_code == 400
    # The mismatch cleared the login cookie; an attacker replaying both gets nowhere either.
    replay_headers = {"Cookie": f"{NAME}_login={login_cookie}"}
    first = requests.get(callback, headers=replay_headers, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    again = requests.get(callback, headers=replay_headers, allow_redirects=False, timeout=10)
    assert again.status_code == 400


def test_sign_out_clears_the_cookie_and_logs_out_at_the_issuer(setup: Setup) -> None:
    proxy = setup.cookie
    browser, _ = browser_login(proxy)
    assert auth(proxy, browser).status_code == 202
    out = browser.get(f"{proxy.url}/oauth2/sign_out", allow_redirects=False, timeout=10)
    assert out.status_code == 302
    end_session = urlsplit(out.headers["Location"])
    assert out.headers["Location"].startswith(setup.issuer.url("/logout"))
    params = parse_qs(end_session.query)
    assert params["post_logout_redirect_uri"] == [f"{proxy.url}/signed-out"]
    assert params["id_token_hint"]
    assert auth(proxy, browser).status_code == 401
    at_issuer = browser.get(out.headers["Location"], allow_redirects=False, timeout=10)
    assert at_issuer.status_code == 302
    assert at_issuer.headers["Location"].startswith(f"{proxy.url}/signed-out")


def test_back_channel_logout_ends_the_server_side_session(setup: Setup) -> None:
    proxy = setup.server_side
    browser, _ = browser_login(proxy)
    assert auth(proxy, browser).status_code == 202
    # The user logs out at the issuer itself (not through the proxy): the issuer POSTs a
    # logout token to the proxy's back-channel URI.
    page = browser.get(setup.issuer.url("/logout"), allow_redirects=False, timeout=10)
    if page.status_code == 200:
        form = next(f for f in parse_page(page.text).forms if f["method"].lower() == "post")
        data = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
        data["logout"] = "yes"
        page = browser.post(
            requests.compat.urljoin(page.url, form["action"]),
            data=data,
            allow_redirects=False,
            timeout=10,
        )
    assert page.status_code in (200, 302, 303), page.text[:300]
    deadline = time.monotonic() + 20
    status = 202
    while time.monotonic() < deadline:
        status = auth(proxy, browser).status_code
        if status == 401:
            break
        time.sleep(0.2)
    assert status == 401, proxy.log_text()[-2000:]
    assert "back-channel logout: 1 session(s) ended" in proxy.log_text()


def test_forged_logout_tokens_are_refused(setup: Setup) -> None:
    proxy = setup.server_side
    bad = requests.post(
        f"{proxy.url}/oauth2/backchannel-logout", data={"logout_token": "a.b.c"}, timeout=10
    )
    assert bad.status_code == 400
    assert requests.post(f"{proxy.url}/oauth2/backchannel-logout", timeout=10).status_code == 400
    # The cookie-only proxy has no back-channel endpoint.
    assert requests.post(
        f"{setup.cookie.url}/oauth2/backchannel-logout", data={"logout_token": "x"}, timeout=10
    ).status_code in (404, 405)


def test_logs_have_the_user_and_decision_but_no_secrets(setup: Setup) -> None:
    proxy = setup.cookie
    browser, _ = browser_login(proxy)
    auth(proxy, browser)
    text = proxy.log_text()
    assert '"decision":"allow"' in text and '"msg":"request"' in text
    for cookie in browser.cookies:
        assert cookie.value not in text
    assert "ZGV4" not in text and "cHJveHktdGVzdC1zZWNyZXQ" not in text
    assert SECRET not in text


def _metric(text: str, name: str, labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(p in line for p in labels.split(",")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_workers_count_metrics_together_and_stop_on_sigterm(setup: Setup) -> None:
    port, metrics_port = free_port(), free_port()
    proxy = ProxyProcess(
        setup.issuer.issuer,
        "dex-py-proxy",
        port,
        workers=2,
        metrics={"listen": f"127.0.0.1:{metrics_port}"},
    )
    try:
        proxy.wait_ready()
        assert requests.get(f"{proxy.url}/ping", timeout=5).text == "OK"
        for _ in range(40):  # new connections: SO_REUSEPORT spreads them over both workers
            assert requests.get(f"{proxy.url}/oauth2/auth", timeout=5).status_code == 401
        scraped = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        counted = _metric(
            scraped, "dexpy_proxy_requests_total", 'endpoint="auth",decision="unauthenticated"'
        )
        assert counted == 40, scraped
    finally:
        status = proxy.stop()
    assert status == 0
    text = proxy.log_text()
    assert text.count("listening on") == 2, text
    assert '"msg":"stopped"' in text
    assert "Traceback" not in text


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its new parent has)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_workers_stop_when_the_master_is_killed(setup: Setup) -> None:
    proxy = ProxyProcess(setup.issuer.issuer, "dex-py-proxy", free_port(), workers=2)
    try:
        proxy.wait_ready()
        workers = [
            int(pid)
            for pid in Path(f"/proc/{proxy.process.pid}/task/{proxy.process.pid}/children")
            .read_text()
            .split()
        ]
        assert len(workers) == 2
        os.kill(proxy.process.pid, signal.SIGKILL)
        proxy.process.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_running(w) for w in workers):
            time.sleep(0.2)
        left = {w: Path(f"/proc/{w}/status").read_text()[:400] for w in workers if _running(w)}
        assert not left, proxy.log_text()[-1500:]
    finally:
        proxy.stop()
