"""Usernames, groups and audiences as kube-apiserver's OIDC flags map them, against live
servers: the username claim and its prefix (``<issuer>#`` unless the claim is ``email``; ``-``
for none), the groups prefix, and the webhook contract's audience rule through
``apiServerAudiences``."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.kube.reviews import forge, password_tokens, review_config, status_of
from tests.live import ADMIN_EMAIL, EXAMPLE_CLIENT_ID, PUBLIC_CLIENT_ID, LiveServer, live_server

pytestmark = pytest.mark.live

KUBE_A = "https://kube-a.example"
KUBE_B = "https://kube-b.example"


@pytest.fixture(scope="module")
def mapped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = review_config(
        audiences=[EXAMPLE_CLIENT_ID, PUBLIC_CLIENT_ID],
        usernameClaim="name",
        groupsPrefix="oidc:",
        apiServerAudiences={KUBE_A: [EXAMPLE_CLIENT_ID], KUBE_B: [PUBLIC_CLIENT_ID]},
    )
    server = live_server(config, base_dir=tmp_path_factory.mktemp("kube-mapped"))
    yield server
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)


def test_a_username_claim_other_than_email_gets_the_issuer_prefix(
    mapped_server: LiveServer,
) -> None:
    user = status_of(mapped_server, password_tokens(mapped_server)["id_token"])["user"]
    assert user["username"] == f"{mapped_server.issuer}#admin"
    assert user["groups"] == ["oidc:platform", "oidc:developers"]


def test_a_token_without_the_username_claim_is_refused(mapped_server: LiveServer) -> None:
    token = password_tokens(mapped_server, scope="openid email groups")["id_token"]
    status = status_of(mapped_server, token)
    assert status == {"authenticated": False, "error": "the token has no name claim"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([KUBE_A, KUBE_B], [KUBE_A]),
        ([KUBE_B, KUBE_A, KUBE_A], [KUBE_A]),
        (["https://unmapped.example"], ["https://unmapped.example"]),
        ([], [EXAMPLE_CLIENT_ID]),
        (None, [EXAMPLE_CLIENT_ID]),
    ],
)
def test_status_audiences_are_the_spec_audiences_the_token_is_for(
    mapped_server: LiveServer, spec: list[str] | None, expected: list[str]
) -> None:
    token = password_tokens(mapped_server)["id_token"]
    status = status_of(mapped_server, token, audiences=spec)
    assert status["authenticated"] is True
    assert status["audiences"] == expected
    if spec:
        assert set(status["audiences"]) <= set(spec)


def test_a_token_for_none_of_the_spec_audiences_is_refused(mapped_server: LiveServer) -> None:
    token = password_tokens(mapped_server)["id_token"]
    status = status_of(mapped_server, token, audiences=[KUBE_B])
    assert status == {
        "authenticated": False,
        "error": "the token is not valid for the requested audiences",
    }
    other = forge(mapped_server, aud=PUBLIC_CLIENT_ID, name="admin")
    assert status_of(mapped_server, other, audiences=[KUBE_B])["audiences"] == [KUBE_B]
    assert not status_of(mapped_server, other, audiences=[KUBE_A])["authenticated"]


@pytest.mark.parametrize(
    ("section", "username"),
    [
        ({"usernameClaim": "sub", "usernamePrefix": "-"}, "{sub}"),
        ({"usernameClaim": "sub"}, "{issuer}#{sub}"),
        ({"usernamePrefix": "k8s:"}, "k8s:" + ADMIN_EMAIL),
        ({"usernamePrefix": "-", "groupsPrefix": "-"}, ADMIN_EMAIL),
    ],
)
def test_username_prefix_rules(
    make_live_server: Callable[..., LiveServer], section: dict[str, str], username: str
) -> None:
    server = make_live_server(review_config(**section))
    status = status_of(server, password_tokens(server)["id_token"])
    user = status["user"]
    assert user["username"] == username.format(sub=user["uid"], issuer=server.issuer)
    assert user["groups"] == ["platform", "developers"]
