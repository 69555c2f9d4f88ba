"""Many replicas (issue 14, item 7): three ``dex-py serve`` processes on one PostgreSQL
database behind haproxy. A login started on one replica finishes on another; refresh and
userinfo work on any; a key rotation is seen by all; killing one replica under load loses no
login but those in flight on it."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import requests

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    _dex_py_command,
    verify_id_token,
)
from tests.login_flow import login_password
from tests.replicas.conftest import Cluster, Load, RotatingSession

AUTH = (EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET)


def authorize_url(issuer: str, state: str = "s1") -> str:
    return (
        f"{issuer}/auth?response_type=code&client_id={EXAMPLE_CLIENT_ID}"
        f"&redirect_uri={EXAMPLE_REDIRECT_URI}&scope=openid+email+groups+offline_access"
        f"&state={state}&nonce=n-{state}"
    )


def code_of(callback: str, state: str = "s1") -> str:
    query = parse_qs(urlsplit(callback).query)
    assert query.get("state") == [state], callback
    return query["code"][0]


def exchange(url: str, code: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": EXAMPLE_REDIRECT_URI}
    return requests.post(url, data=data, auth=AUTH, timeout=10)


def redeem(url: str, code: str) -> dict[str, str]:
    resp = exchange(url, code)
    assert resp.status_code == 200, resp.text
    tokens: dict[str, str] = resp.json()
    return tokens


def test_a_login_moves_between_replicas_and_tokens_work_on_each(cluster: Cluster) -> None:
    browser = RotatingSession(cluster)
    callback = login_password(browser, authorize_url(cluster.issuer), ADMIN_EMAIL, ADMIN_PASSWORD)
    # every step of the login went to the next replica: all three served a part of it
    assert set(browser.served_by) == {"r1", "r2", "r3"}, browser.served_by
    first, second, third = cluster.replicas
    tokens = redeem(cluster.on(first, cluster.issuer + "/token"), code_of(callback))
    claims = verify_id_token(
        cluster.issuer, tokens["id_token"], audience=EXAMPLE_CLIENT_ID, nonce="n-s1"
    )
    assert claims["email"] == ADMIN_EMAIL
    for replica in cluster.replicas:  # an access token from r1 is good on every replica
        info = requests.get(
            cluster.on(replica, cluster.issuer + "/userinfo"),
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        )
        assert info.status_code == 200, (replica.name, info.text)
        assert info.json()["email"] == ADMIN_EMAIL
    refresh = tokens["refresh_token"]
    for replica in (second, third, first):  # the rotated refresh token moves on each time
        resp = requests.post(
            cluster.on(replica, cluster.issuer + "/token"),
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=AUTH,
            timeout=10,
        )
        assert resp.status_code == 200, (replica.name, resp.text)
        refresh = resp.json()["refresh_token"]
    # a code is single-use across replicas too
    replay = exchange(cluster.on(third, cluster.issuer + "/token"), code_of(callback))
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def _kids(cluster: Cluster) -> list[set[str]]:
    out = []
    for replica in cluster.replicas:
        jwks = requests.get(cluster.on(replica, cluster.issuer + "/keys"), timeout=10).json()
        out.append({key["kid"] for key in jwks["keys"]})
    return out


def test_a_key_rotation_is_seen_by_every_replica(cluster: Cluster) -> None:
    before = _kids(cluster)
    assert before[0] == before[1] == before[2]
    rotated = subprocess.run(
        [*_dex_py_command(), "keys", "rotate", str(cluster.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    deadline = time.monotonic() + 20  # replicas re-read the key row every few seconds
    while time.monotonic() < deadline:
        after = _kids(cluster)
        if all(kids - before[0] for kids in after):
            break
        time.sleep(0.5)
    new_kid = next(iter(after[0] - before[0]), None)
    assert new_kid is not None and all(new_kid in kids for kids in after), after
    # the old key stays published (tokens it signed are still valid) and every replica signs
    # new tokens with the new key
    assert all(before[0] <= kids for kids in after)
    for replica in cluster.replicas:
        browser = requests.Session()
        callback = login_password(
            browser, authorize_url(cluster.issuer), ADMIN_EMAIL, ADMIN_PASSWORD
        )
        tokens = redeem(cluster.on(replica, cluster.issuer + "/token"), code_of(callback))
        header = tokens["id_token"].split(".")[0]
        kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
        assert kid == new_kid, replica.name


def test_killing_a_replica_under_load_loses_only_logins_in_flight_on_it(
    cluster: Cluster,
) -> None:
    def one_login() -> None:
        browser = requests.Session()
        callback = login_password(
            browser, authorize_url(cluster.issuer), ADMIN_EMAIL, ADMIN_PASSWORD
        )
        redeem(cluster.issuer + "/token", code_of(callback))

    threads = 4  # a bounded load: at most 4 logins in flight at any moment
    with Load(one_login, threads) as load:
        time.sleep(4)
        killed_at = time.monotonic()
        cluster.kill(cluster.replicas[1])
        time.sleep(6)
    results = load.results
    before = [r for r in results if r[1] < killed_at]
    after = [r for r in results if r[0] > killed_at + 1.0]  # haproxy's checks: 2 x 300 ms
    spanning = [r for r in results if r[0] <= killed_at + 1.0 and r[1] >= killed_at]
    assert before and all(ok for _, _, ok, _ in before), [r for r in before if not r[2]]
    assert len(after) >= threads, "the load stopped after the kill"
    assert all(ok for _, _, ok, _ in after), [r for r in after if not r[2]]
    lost = [r for r in spanning if not r[2]]
    # each thread has one login in flight at a time: at most that many can be lost
    assert len(lost) <= threads, lost
