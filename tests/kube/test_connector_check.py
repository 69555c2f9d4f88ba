"""The connector check (``kubernetes.tokenReview.connectorCheck``, ``dex_py.oauth.connector_check``)
against a live server: a user removed upstream, or who lost a team, is refused by the webhook
without any refresh; an unchanged user keeps working; with the check off, nothing changes until
the next refresh. The password database is the upstream here (its refresh looks the user up)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from dex_py.passwords import hash_password
from dex_py.storage.base import Password, Storage
from tests.kube.reviews import authenticated, password_tokens, review_config, server_storage
from tests.live import LiveServer

pytestmark = pytest.mark.live

CAROL, DAVE = "carol@example.com", "dave@example.com"
PASSWORD = "carol-and-dave-s3cret"
WAIT = 20.0  # seconds for a 1 s check to have run, on a loaded machine


def _add(storage: Storage, email: str) -> None:
    storage.create_password(
        Password(
            email=email,
            hash=hash_password(PASSWORD, cost=4),
            username=email.split("@")[0],
            user_id=email + "-id",
            groups=("admins", "developers"),
        )
    )


@pytest.fixture
def checked(make_live_server: Callable[..., LiveServer]) -> Iterator[tuple[LiveServer, Storage]]:
    server = make_live_server(review_config(connectorCheck="1s"))
    storage = server_storage(server)
    for email in (CAROL, DAVE):
        _add(storage, email)
    yield server, storage
    storage.close()


def _refused_within(server: LiveServer, token: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not authenticated(server, token):
            return True
        time.sleep(0.5)
    return False


def test_a_user_removed_upstream_is_refused_without_a_refresh(
    checked: tuple[LiveServer, Storage],
) -> None:
    server, storage = checked
    carol = password_tokens(server, CAROL, PASSWORD)
    dave = password_tokens(server, DAVE, PASSWORD)
    assert authenticated(server, carol["id_token"])
    storage.delete_password(CAROL)
    assert _refused_within(server, carol["id_token"], WAIT)
    assert not authenticated(server, carol["access_token"])
    # the chain is gone too: the next refresh asks for a new login
    assert storage.list_refresh_tokens(user_id=CAROL + "-id") == []
    assert authenticated(server, dave["id_token"])  # checked, unchanged, kept


def test_a_user_who_lost_a_team_is_refused_without_a_refresh(
    checked: tuple[LiveServer, Storage],
) -> None:
    server, storage = checked
    carol = password_tokens(server, CAROL, PASSWORD)
    storage.update_password(CAROL, lambda p: replace(p, groups=(*p.groups, "ops")))
    time.sleep(3)  # a gained team narrows nothing: the check keeps the tokens
    assert authenticated(server, carol["id_token"])
    storage.update_password(CAROL, lambda p: replace(p, groups=("developers",)))
    assert _refused_within(server, carol["id_token"], WAIT)


def test_with_the_check_off_only_a_refresh_notices(
    make_live_server: Callable[..., LiveServer],
) -> None:
    server = make_live_server(review_config(connectorCheck="0s"))
    storage = server_storage(server)
    try:
        _add(storage, CAROL)
        carol = password_tokens(server, CAROL, PASSWORD)
        storage.delete_password(CAROL)
        assert not _refused_within(server, carol["id_token"], 4)
    finally:
        storage.close()
