"""Client secret rotation: after a rotation the replaced secret still authenticates at /token
until ``previous_secret_expiry`` and never after it; the new one works throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dex_py.clients import check_secret, secret_digest
from dex_py.storage.base import Client
from tests.grants.conftest import basic_auth
from tests.oauth.conftest import App

OLD = "old-secret-old-secret-old-secret"
NEW = "new-secret-new-secret-new-secret"


def _token_status(app: App, secret: str) -> int:
    resp = app.client().post(
        "/dex/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("rotated", secret),
    )
    return resp.status_code


def test_the_previous_secret_works_until_its_expiry(machine_app: App) -> None:
    grace_end = machine_app.clock.now() + timedelta(hours=1)
    machine_app.storage.create_client(
        Client(
            id="rotated",
            secret_hash=secret_digest(NEW),
            grant_types=("client_credentials",),
            previous_secret_hash=secret_digest(OLD),
            previous_secret_expiry=grace_end,
        )
    )
    assert _token_status(machine_app, NEW) == 200
    assert _token_status(machine_app, OLD) == 200  # within the grace period
    assert _token_status(machine_app, "some-other-secret") == 401
    machine_app.clock.set(grace_end - timedelta(seconds=1))
    assert _token_status(machine_app, OLD) == 200
    machine_app.clock.set(grace_end)
    assert _token_status(machine_app, OLD) == 401  # expired
    assert _token_status(machine_app, NEW) == 200


def test_check_secret_without_a_time_or_a_previous_secret() -> None:
    later = Client(
        id="c",
        secret_hash=secret_digest(NEW),
        previous_secret_hash=secret_digest(OLD),
        previous_secret_expiry=None,  # no expiry recorded: no grace
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert check_secret(later, NEW, now)
    assert not check_secret(later, OLD, now)
    without_now = Client(
        id="c",
        secret_hash=secret_digest(NEW),
        previous_secret_hash=secret_digest(OLD),
        previous_secret_expiry=now + timedelta(days=1),
    )
    assert not check_secret(without_now, OLD)  # no time given: the previous one never counts
    public = Client(id="p", secret_hash="", public=True)
    assert not check_secret(public, "")  # an empty secret never matches an empty digest
