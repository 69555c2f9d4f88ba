"""What the API server's OIDC flags cannot do, done by the webhook against a live server: a
token is refused once its login session ended (logout), its refresh chain was revoked (the
revocation endpoint, refresh token reuse), its user was removed or lost a team upstream (seen
at the next refresh), its access token was revoked, or its client was deleted. Each test first
shows the same token accepted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from dex_py.clients import secret_digest
from dex_py.passwords import hash_password
from dex_py.storage.base import Client, NotFoundError, Password, Storage
from tests.kube.reviews import (
    authenticated,
    browser_login,
    password_tokens,
    refresh,
    review_config,
    server_storage,
    status_of,
)
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    LiveServer,
    default_config,
)

pytestmark = pytest.mark.live

BOB = "bob@example.com"
BOB_PASSWORD = "bob-s3cret-password"


@pytest.fixture
def storage(kube_server: LiveServer) -> Iterator[Storage]:
    store = server_storage(kube_server)
    yield store
    store.close()


@pytest.fixture
def bob(storage: Storage) -> Iterator[str]:
    """A user of the password database (stored, so the test can change or remove them)."""
    storage.create_password(
        Password(
            email=BOB,
            hash=hash_password(BOB_PASSWORD, cost=4),
            username="bob",
            user_id="bob-id",
            groups=("admins", "developers"),
        )
    )
    yield BOB
    with contextlib.suppress(NotFoundError):  # unless the test removed them
        storage.delete_password(BOB)


def revoke(server: LiveServer, token: str, hint: str) -> None:
    resp = requests.post(
        server.url("/token/revoke"),
        data={"token": token, "token_type_hint": hint},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text


def test_logout_ends_the_tokens_of_the_session(kube_server: LiveServer) -> None:
    browser, tokens = browser_login(kube_server, scope="openid email groups")
    id_token = tokens["id_token"]
    assert "refresh_token" not in tokens  # only the session links this token to the login
    assert authenticated(kube_server, id_token)
    resp = browser.get(kube_server.url("/logout"), params={"id_token_hint": id_token}, timeout=10)
    assert resp.status_code == 200, resp.text[:300]
    status = status_of(kube_server, id_token)
    assert status == {"authenticated": False, "error": "the token has been revoked"}


def test_another_session_is_not_ended_by_a_logout(kube_server: LiveServer) -> None:
    browser, tokens = browser_login(kube_server, scope="openid email groups")
    _, other = browser_login(kube_server, scope="openid email groups")
    browser.get(kube_server.url("/logout"), params={"id_token_hint": tokens["id_token"]})
    assert not authenticated(kube_server, tokens["id_token"])
    assert authenticated(kube_server, other["id_token"])


def test_revoking_the_refresh_token_ends_its_id_and_access_tokens(
    kube_server: LiveServer,
) -> None:
    tokens = password_tokens(kube_server)
    other = password_tokens(kube_server)
    for token in (tokens["id_token"], tokens["access_token"]):
        assert authenticated(kube_server, token)
    revoke(kube_server, tokens["refresh_token"], "refresh_token")
    for token in (tokens["id_token"], tokens["access_token"]):
        assert not authenticated(kube_server, token)
    assert authenticated(kube_server, other["id_token"])  # another login is untouched


def test_refresh_token_reuse_ends_every_token_of_the_chain(kube_server: LiveServer) -> None:
    first = password_tokens(kube_server)
    second = refresh(kube_server, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert authenticated(kube_server, first["id_token"])
    assert authenticated(kube_server, second.json()["id_token"])
    reused = refresh(kube_server, first["refresh_token"])  # rotated out: reuse
    assert reused.json()["error"] == "invalid_grant"
    assert not authenticated(kube_server, first["id_token"])
    assert not authenticated(kube_server, second.json()["id_token"])


def test_a_revoked_access_token_is_refused(kube_server: LiveServer) -> None:
    tokens = password_tokens(kube_server)
    assert authenticated(kube_server, tokens["access_token"])
    revoke(kube_server, tokens["access_token"], "access_token")
    assert not authenticated(kube_server, tokens["access_token"])
    assert authenticated(kube_server, tokens["id_token"])  # only that access token


def test_a_user_removed_upstream_is_refused_after_the_next_refresh(
    kube_server: LiveServer, storage: Storage, bob: str
) -> None:
    tokens = password_tokens(kube_server, bob, BOB_PASSWORD)
    assert authenticated(kube_server, tokens["id_token"])
    storage.delete_password(bob)
    resp = refresh(kube_server, tokens["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert not authenticated(kube_server, tokens["id_token"])
    assert not authenticated(kube_server, tokens["access_token"])


def test_a_user_who_lost_a_team_keeps_only_the_new_tokens(
    kube_server: LiveServer, storage: Storage, bob: str
) -> None:
    tokens = password_tokens(kube_server, bob, BOB_PASSWORD)
    assert status_of(kube_server, tokens["id_token"])["user"]["groups"] == [
        "platform",
        "developers",
    ]
    storage.update_password(bob, lambda p: replace(p, groups=("developers",)))
    resp = refresh(kube_server, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    fresh = resp.json()
    assert not authenticated(kube_server, tokens["id_token"])
    assert not authenticated(kube_server, tokens["access_token"])
    status = status_of(kube_server, fresh["id_token"])
    assert status["authenticated"] is True
    assert status["user"]["groups"] == ["developers"]
    # the chain lives on under its new id: the next refresh works and keeps the new tokens
    again = refresh(kube_server, fresh["refresh_token"])
    assert again.status_code == 200, again.text
    assert authenticated(kube_server, fresh["id_token"])
    assert authenticated(kube_server, again.json()["id_token"])


def test_gaining_a_team_keeps_the_earlier_tokens(
    kube_server: LiveServer, storage: Storage, bob: str
) -> None:
    tokens = password_tokens(kube_server, bob, BOB_PASSWORD)
    storage.update_password(bob, lambda p: replace(p, groups=(*p.groups, "ops")))
    resp = refresh(kube_server, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert authenticated(kube_server, tokens["id_token"])
    groups = status_of(kube_server, resp.json()["id_token"])["user"]["groups"]
    assert groups == ["platform", "developers", "ops"]


def test_a_deleted_client_ends_its_tokens(
    make_live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """``dyn-client`` (stored, not in the config) gets an ID token for ``example-app`` (a
    cross-client audience); deleting the client refuses it."""
    clients = default_config(0, tmp_path)["staticClients"]
    clients[0]["trustedPeers"] = ["dyn-client"]
    server = make_live_server({**review_config(), "staticClients": clients})
    store = server_storage(server)
    try:
        secret = "dyn-client-secret-0123456789"
        store.create_client(Client(id="dyn-client", secret_hash=secret_digest(secret)))
        tokens = password_tokens(
            server,
            scope=f"openid email groups audience:server:client_id:{EXAMPLE_CLIENT_ID}",
            client=("dyn-client", secret),
        )
        status = status_of(server, tokens["id_token"])
        assert status["authenticated"] is True, status
        store.delete_client("dyn-client")
        status = status_of(server, tokens["id_token"])
        assert status == {"authenticated": False, "error": "the token's client no longer exists"}
    finally:
        store.close()
