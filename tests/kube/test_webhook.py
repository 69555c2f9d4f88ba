"""The TokenReview webhook's wire contract against a live server: v1 and v1beta1 in and out,
callers authenticated by their token (401 telling nothing otherwise), bad bodies answered
with a Kubernetes ``Status``, and the endpoint absent (404) unless configured."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests

from tests.kube.reviews import (
    CALLER,
    CONNECTOR_EXTRA,
    OTHER_CALLER,
    V1,
    V1BETA1,
    password_tokens,
    review,
    review_config,
    status_of,
)
from tests.live import ADMIN_EMAIL, ADMIN_USER_ID, EXAMPLE_CLIENT_ID, LiveServer
from tests.services import free_port

pytestmark = pytest.mark.live


@pytest.mark.parametrize("api_version", [V1, V1BETA1])
def test_an_id_token_is_authenticated_with_user_teams_and_connector(
    kube_server: LiveServer, api_version: str
) -> None:
    tokens = password_tokens(kube_server)
    status = status_of(kube_server, tokens["id_token"], api_version=api_version)
    assert status["authenticated"] is True
    user = status["user"]
    assert user["username"] == ADMIN_EMAIL  # usernameClaim email: no prefix, as the API server
    # groups are the teams of the ID token: admins -> platform by the teams rule
    assert user["groups"] == ["platform", "developers"]
    assert user["extra"] == {CONNECTOR_EXTRA: ["local"]}
    sub = requests.get(
        kube_server.url("/userinfo"),
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()["sub"]
    assert user["uid"] == sub
    assert ADMIN_USER_ID not in user["username"]
    assert status["audiences"] == [EXAMPLE_CLIENT_ID]


def test_a_jwt_access_token_of_an_accepted_client_is_authenticated(
    kube_server: LiveServer,
) -> None:
    tokens = password_tokens(kube_server)
    status = status_of(kube_server, tokens["access_token"])
    assert status["authenticated"] is True
    assert status["user"]["username"] == ADMIN_EMAIL


def test_any_configured_caller_token_is_accepted(kube_server: LiveServer) -> None:
    token = password_tokens(kube_server)["id_token"]
    for caller in (CALLER, OTHER_CALLER):
        assert status_of(kube_server, token, caller=caller)["authenticated"] is True


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-caller-token-0123456789",
        f"Bearer {CALLER}x",
        f"Bearer {CALLER[:-1]}",
        f"Basic {CALLER}",
        f"Token {CALLER}",
    ],
)
def test_other_callers_get_401_and_learn_nothing(
    kube_server: LiveServer, authorization: str | None
) -> None:
    valid = password_tokens(kube_server)["id_token"]
    answers = []
    for token in (valid, "not-a-token"):
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        body = {"apiVersion": V1, "kind": "TokenReview", "spec": {"token": token}}
        resp = requests.post(
            kube_server.url("/kubernetes/tokenreview"),
            data=json.dumps(body),
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        answers.append(resp.content)
    # the same bytes whether the token under review is valid or not
    assert answers[0] == answers[1]
    assert json.loads(answers[0]) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_a_bad_body_from_an_unknown_caller_is_still_401(kube_server: LiveServer) -> None:
    resp = requests.post(
        kube_server.url("/kubernetes/tokenreview"),
        data="{not json",
        headers={"Authorization": "Bearer nope"},
        timeout=10,
    )
    assert resp.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"apiVersion": V1, "kind": "TokenReview"}),
        json.dumps({"apiVersion": V1, "kind": "TokenReview", "spec": {}}),
        json.dumps({"apiVersion": V1, "kind": "TokenReview", "spec": {"token": 7}}),
        json.dumps({"apiVersion": V1, "kind": "SubjectAccessReview", "spec": {"token": "x"}}),
        json.dumps({"apiVersion": "v1", "kind": "TokenReview", "spec": {"token": "x"}}),
        json.dumps({"kind": "TokenReview", "spec": {"token": "x"}}),
        json.dumps(
            {"apiVersion": V1, "kind": "TokenReview", "spec": {"token": "x", "audiences": "a"}}
        ),
        json.dumps(
            {"apiVersion": V1, "kind": "TokenReview", "spec": {"token": "x", "audiences": [1]}}
        ),
        b"\xff\xfe\x00",
    ],
)
def test_malformed_reviews_get_400_with_a_status(
    kube_server: LiveServer, body: str | bytes
) -> None:
    resp = requests.post(
        kube_server.url("/kubernetes/tokenreview"),
        data=body,
        headers={"Authorization": f"Bearer {CALLER}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert resp.status_code == 400, resp.text
    status = resp.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "BadRequest"
    assert status["code"] == 400
    assert status["message"].startswith("not a TokenReview: ")
    assert "Traceback" not in resp.text and "File " not in resp.text


def test_a_token_that_is_not_a_jwt_is_not_authenticated(kube_server: LiveServer) -> None:
    status = status_of(kube_server, "opaque-token-from-elsewhere")
    assert status == {"authenticated": False, "error": "invalid token: malformed"}


def test_the_endpoint_is_absent_without_the_section(
    make_live_server: Callable[..., LiveServer],
) -> None:
    server = make_live_server()
    resp = review(server, "x")
    assert resp.status_code == 404
    off = review_config(callerTokens=[])
    server = make_live_server(off)
    assert review(server, "x").status_code == 404


def _counter(text: str, result: str) -> float:
    prefix = f'dexpy_tokenreviews_total{{result="{result}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return sum(values)


def test_reviews_are_counted_by_result(make_live_server: Callable[..., LiveServer]) -> None:
    port = free_port()
    server = make_live_server({**review_config(), "telemetry": {"http": f"127.0.0.1:{port}"}})
    token = password_tokens(server)["id_token"]
    for _ in range(3):
        assert status_of(server, token)["authenticated"] is True
    assert not status_of(server, "x.y.z")["authenticated"]
    assert review(server, token, caller="wrong-caller-token-xxxxxxxx").status_code == 401
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert _counter(text, "authenticated") == 3
    assert _counter(text, "invalid") == 1
    assert _counter(text, "unauthorized_caller") == 1
