"""Each check kube-apiserver's OIDC authenticator makes, made by the webhook too: tokens signed
with the live server's own key (read from its database) that differ from a valid ID token in
one claim, plus a bad signature and another issuer's key."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.kube.reviews import CONNECTOR_EXTRA, forge, password_tokens, review_config, status_of
from tests.live import ADMIN_EMAIL, EXAMPLE_CLIENT_ID, PUBLIC_CLIENT_ID, LiveServer

pytestmark = pytest.mark.live


def refused(server: LiveServer, token: str) -> str:
    status = status_of(server, token)
    assert status["authenticated"] is False, status
    assert set(status) == {"authenticated", "error"}
    error: str = status["error"]
    return error


def test_the_forged_baseline_is_accepted(kube_server: LiveServer) -> None:
    """The helper's token is valid as such, so each test below refuses for its one change."""
    status = status_of(kube_server, forge(kube_server))
    assert status["authenticated"] is True
    assert status["user"]["extra"] == {CONNECTOR_EXTRA: ["local"]}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": PUBLIC_CLIENT_ID}, "audience is not accepted"),
        ({"aud": [PUBLIC_CLIENT_ID, "someone-else"]}, "audience is not accepted"),
        ({"aud": None}, "audience is not accepted"),
        ({"exp": "now-1"}, "expired"),
        ({"exp": None}, "missing exp"),
        ({"nbf": "now+300"}, "not yet valid"),
        ({"iat": "now+300"}, "issued in the future"),
        ({"iss": "https://other.example/dex"}, "wrong issuer"),
        ({"email_verified": False}, "not verified"),
        ({"email": None}, "no email claim"),
        ({"groups": "platform"}, "not a list of strings"),
        ({"events": {"http://schemas.openid.net/event/backchannel-logout": {}}}, "logout"),
        ({"gty": "client_credentials"}, "no end user"),
        ({"sub": "not-a-dex-subject!"}, "not one of ours"),
    ],
)
def test_tokens_failing_one_check_are_refused(
    kube_server: LiveServer, claims: dict[str, Any], reason: str
) -> None:
    now = int(time.time())  # times relative to when the test runs, not when it was collected
    resolved = {
        k: now + int(v[3:]) if isinstance(v, str) and v.startswith("now") else v
        for k, v in claims.items()
    }
    assert reason in refused(kube_server, forge(kube_server, **resolved))


def test_a_token_for_an_accepted_peer_audience_is_accepted(kube_server: LiveServer) -> None:
    status = status_of(kube_server, forge(kube_server, aud=["someone-else", EXAMPLE_CLIENT_ID]))
    # "someone-else" is no client here: a token naming a client that does not exist is refused
    assert status["authenticated"] is False
    assert "client no longer exists" in status["error"]
    ok = status_of(kube_server, forge(kube_server, aud=[EXAMPLE_CLIENT_ID, PUBLIC_CLIENT_ID]))
    assert ok["authenticated"] is True
    assert ok["audiences"] == [EXAMPLE_CLIENT_ID]


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "mallory@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_bad_signature_is_refused(kube_server: LiveServer) -> None:
    token = password_tokens(kube_server)["id_token"]
    assert "bad signature" in refused(kube_server, _tampered(token))
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert "invalid token" in refused(kube_server, f"{header}.{payload}.{flipped}")


def test_a_token_of_another_issuer_is_refused(
    kube_server: LiveServer, make_live_server: Callable[..., LiveServer]
) -> None:
    other = make_live_server(review_config())
    foreign = password_tokens(other)
    assert status_of(other, foreign["id_token"])["authenticated"] is True
    assert "invalid token" in refused(kube_server, foreign["id_token"])
    # signed with the other issuer's key but claiming to be ours
    assert "invalid token" in refused(kube_server, forge(other, iss=kube_server.issuer))


def test_email_verified_missing_is_accepted_as_the_api_server_does(
    kube_server: LiveServer,
) -> None:
    status = status_of(kube_server, forge(kube_server, email_verified=None))
    assert status["authenticated"] is True
    assert status["user"]["username"] == ADMIN_EMAIL
