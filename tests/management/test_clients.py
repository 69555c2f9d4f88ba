"""Clients managed at run time, on memory, SQLite and PostgreSQL: generated secrets kept as
digests, every validation problem at once, config clients read-only, versions, deletion
revoking refresh tokens, and an audit record for every change without a secret in it."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from dex_py import revocation
from dex_py.app import create_app
from dex_py.clients import authenticate_client, check_secret, secret_digest
from dex_py.clock import FrozenClock
from dex_py.config.loader import from_dict
from dex_py.errors import InvalidClient
from dex_py.management import clients
from dex_py.management.actor import Actor
from dex_py.management.client_rules import ClientSpec
from dex_py.management.errors import AlreadyExists, Conflict, Invalid, NotFound, ReadOnly
from dex_py.services import Services
from dex_py.storage.base import Storage
from tests.oauth.conftest import BASE_CONFIG, CLIENT_ID, merge
from tests.storage import factories

WEB = ClientSpec(
    id="web-app",
    name="Web App",
    redirect_uris=("https://app.example.com/callback",),
    grant_types=("authorization_code", "refresh_token"),
)


def admin_records(svc: Services) -> list[dict]:
    """The stored admin audit records, oldest first, as export lines."""
    records = svc.storage.list_audit_records(event="admin", limit=1000)
    return [{**dataclasses.asdict(r), "details": json.loads(r.details)} for r in reversed(records)]


@pytest.fixture
def make_console_svc(storage: Storage) -> Iterator[Services]:
    """Services of an app whose admin console is on (it brings its own client)."""
    config = from_dict(merge(BASE_CONFIG, {"admin": {"emails": ["ops@example.com"]}}))
    app = create_app(config, storage=storage)
    with app.app_context():
        yield app.extensions["dex_py"]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_create_returns_a_secret_once_and_stores_only_its_digest(
    svc: Services, actor: Actor
) -> None:
    view, secret = clients.create_client(svc, actor, WEB)
    assert secret is not None and len(secret) >= 43
    stored = svc.storage.get_client("web-app")
    assert stored.secret_hash == secret_digest(secret)
    assert check_secret(stored, secret)
    # the token endpoint's own authentication accepts it, and nothing else
    client, method = authenticate_client(svc.clients, basic("web-app", secret), {})
    assert (client.id, method) == ("web-app", "client_secret_basic")
    with pytest.raises(InvalidClient):
        authenticate_client(svc.clients, basic("web-app", secret + "x"), {})
    assert view.has_secret and not view.static and view.redirect_uris == WEB.redirect_uris
    assert secret not in repr(view) and stored.secret_hash not in repr(view)
    assert clients.get_client(svc, "web-app") == view
    [record] = admin_records(svc)
    assert record["actor"] == "console:ops@example.com"
    assert record["object"] == "client:web-app"
    assert record["details"]["action"] == "client.create"
    assert record["outcome"] == "success"
    assert secret not in json.dumps(record, default=str)


def test_each_create_generates_another_secret(svc: Services, actor: Actor) -> None:
    _, first = clients.create_client(svc, actor, WEB)
    _, second = clients.create_client(svc, actor, dataclasses.replace(WEB, id="web-2"))
    assert first and second and first != second


def test_public_and_key_clients_get_no_secret(svc: Services, actor: Actor) -> None:
    cli = ClientSpec(
        id="cli", public=True, redirect_uris=("http://127.0.0.1/cb", "com.example.app:/cb")
    )
    view, secret = clients.create_client(svc, actor, cli)
    assert secret is None and not view.has_secret
    assert svc.storage.get_client("cli").secret_hash == ""


def test_an_empty_id_is_generated(svc: Services, actor: Actor) -> None:
    view, _ = clients.create_client(svc, actor, dataclasses.replace(WEB, id=""))
    assert len(view.id) == 24
    assert clients.get_client(svc, view.id).name == "Web App"


def test_every_problem_is_reported_at_once_and_nothing_is_stored(
    svc: Services, actor: Actor
) -> None:
    before = clients.list_clients(svc)
    spec = ClientSpec(
        id="bad id:with colon",
        public=True,
        redirect_uris=(
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "/relative",
        ),
        post_logout_redirect_uris=("data:text/html,hi",),
        grant_types=("authorization_code", "magic"),
        token_endpoint_auth_method="client_secret_basic",
        backchannel_logout_uri="http://rp.example.com/logout",
        logo_url="javascript:alert(1)",
        trusted_peers=("ok", "not ok"),
    )
    with pytest.raises(Invalid) as caught:
        clients.create_client(svc, actor, spec)
    fields = {field for field, _ in caught.value.errors}
    assert fields == {
        "id",
        "redirect_uris[0]",
        "redirect_uris[1]",
        "redirect_uris[2]",
        "redirect_uris[3]",
        "post_logout_redirect_uris[0]",
        "grant_types[1]",
        "token_endpoint_auth_method",
        "backchannel_logout_uri",
        "logo_url",
        "trusted_peers[1]",
    }
    assert clients.list_clients(svc) == before
    [record] = admin_records(svc)
    assert record["outcome"] == "failure" and record["details"]["reason"] == "Invalid"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
        ({"jwks_uri": "https://app.example.com/jwks"}, "jwks"),
        (
            {
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}',
            },
            "jwks",
        ),
        ({"grant_types": ["authorization_code", "authorization_code"]}, "grant_types"),
        ({"name": "line\nbreak"}, "name"),
        ({"redirect_uris": "https://one.example.com/cb"}, "redirect_uris"),
        ({"public": "yes"}, "public"),
        ({"secret_hash": "0" * 64}, "secret_hash"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    svc: Services, actor: Actor, changes: dict, field: str
) -> None:
    view, _ = clients.create_client(svc, actor, WEB)
    with pytest.raises(Invalid) as caught:
        clients.update_client(svc, actor, "web-app", changes)
    assert field in {f for f, _ in caught.value.errors}
    assert clients.get_client(svc, "web-app") == view


def test_private_key_jwt_client_with_public_keys(svc: Services, actor: Actor) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwcrypto import jwk

    key = jwk.JWK.from_pyca(ec.generate_private_key(ec.SECP256R1()))
    public = {**json.loads(key.export_public()), "alg": "ES256", "use": "sig", "kid": "k1"}
    spec = dataclasses.replace(
        WEB,
        token_endpoint_auth_method="private_key_jwt",
        jwks=json.dumps({"keys": [public]}),
    )
    view, secret = clients.create_client(svc, actor, spec)
    assert secret is None and not view.has_secret
    private = {**json.loads(key.export_private()), "alg": "ES256"}
    with pytest.raises(Invalid):
        clients.update_client(svc, actor, "web-app", {"jwks": json.dumps({"keys": [private]})})


def test_updates_apply_and_change_the_version(svc: Services, actor: Actor) -> None:
    view, secret = clients.create_client(svc, actor, WEB)
    updated = clients.update_client(
        svc,
        actor,
        "web-app",
        {"name": "Renamed", "redirect_uris": ["https://new.example.com/cb"]},
        expected_version=view.version,
    )
    assert updated.name == "Renamed"
    assert updated.redirect_uris == ("https://new.example.com/cb",)
    assert updated.version != view.version
    assert clients.get_client(svc, "web-app") == updated
    assert check_secret(svc.storage.get_client("web-app"), secret or "")
    whole = clients.update_client(
        svc, actor, "web-app", dataclasses.replace(updated.spec, name="W")
    )
    assert whole.name == "W" and whole.redirect_uris == updated.redirect_uris
    actions = [r["details"]["action"] for r in admin_records(svc)]
    assert actions == ["client.create", "client.update", "client.update"]


def test_a_stale_version_is_a_conflict(svc: Services, actor: Actor) -> None:
    view, _ = clients.create_client(svc, actor, WEB)
    clients.update_client(svc, actor, "web-app", {"name": "First"}, expected_version=view.version)
    with pytest.raises(Conflict):
        clients.update_client(
            svc, actor, "web-app", {"name": "Second"}, expected_version=view.version
        )
    with pytest.raises(Conflict):
        clients.delete_client(svc, actor, "web-app", expected_version=f'"{view.version}"')
    assert clients.get_client(svc, "web-app").name == "First"
    current = clients.get_client(svc, "web-app").version
    clients.delete_client(svc, actor, "web-app", expected_version=f'W/"{current}"')
    with pytest.raises(NotFound):
        clients.get_client(svc, "web-app")


def test_becoming_public_drops_the_secret(svc: Services, actor: Actor) -> None:
    _, secret = clients.create_client(svc, actor, WEB)
    view = clients.update_client(svc, actor, "web-app", {"public": True})
    assert view.public and not view.has_secret
    assert not check_secret(svc.storage.get_client("web-app"), secret or "")


def test_config_clients_are_read_only(svc: Services, actor: Actor) -> None:
    static = clients.get_client(svc, CLIENT_ID)
    assert static.static and static.has_secret
    with pytest.raises(ReadOnly):
        clients.update_client(svc, actor, CLIENT_ID, {"name": "Hijacked"})
    with pytest.raises(ReadOnly):
        clients.delete_client(svc, actor, CLIENT_ID)
    with pytest.raises(AlreadyExists):
        clients.create_client(svc, actor, dataclasses.replace(WEB, id=CLIENT_ID))
    assert clients.get_client(svc, CLIENT_ID) == static
    outcomes = [(r["details"]["reason"], r["outcome"]) for r in admin_records(svc)]
    assert outcomes == [
        ("ReadOnly", "failure"),
        ("ReadOnly", "failure"),
        ("AlreadyExists", "failure"),
    ]


def test_taken_and_unknown_ids(svc: Services, actor: Actor) -> None:
    clients.create_client(svc, actor, WEB)
    with pytest.raises(AlreadyExists):
        clients.create_client(svc, actor, WEB)
    with pytest.raises(NotFound):
        clients.get_client(svc, "nope")
    with pytest.raises(NotFound):
        clients.update_client(svc, actor, "nope", {"name": "x"})
    with pytest.raises(NotFound):
        clients.delete_client(svc, actor, "nope")


def test_list_has_config_and_stored_clients(svc: Services, actor: Actor) -> None:
    clients.create_client(svc, actor, WEB)
    listed = {c.id: c.static for c in clients.list_clients(svc)}
    assert listed == {CLIENT_ID: True, "public-cli": True, "peer-app": True, "web-app": False}


def test_delete_revokes_the_clients_refresh_tokens(svc: Services, actor: Actor) -> None:
    clients.create_client(svc, actor, WEB)
    mine = factories.refresh_token(client_id="web-app")
    other = factories.refresh_token(client_id=CLIENT_ID)
    svc.storage.create_refresh_token(mine)
    svc.storage.create_refresh_token(other)
    clients.delete_client(svc, actor, "web-app")
    assert [t.id for t in svc.storage.list_refresh_tokens()] == [other.id]
    assert svc.storage.is_access_token_revoked("jti", revocation.grant_id_of(mine.id))
    assert not svc.storage.is_access_token_revoked("jti", revocation.grant_id_of(other.id))
    assert admin_records(svc)[-1]["details"]["refresh_tokens_revoked"] == 1


def accepts(svc: Services, client_id: str, secret: str) -> bool:
    """Whether the token endpoint's client authentication accepts the secret now."""
    try:
        authenticate_client(svc.clients, basic(client_id, secret), {})
    except InvalidClient:
        return False
    return True


def test_rotation_keeps_the_old_secret_for_the_grace_period(
    svc: Services, actor: Actor, clock: FrozenClock
) -> None:
    view, old = clients.create_client(svc, actor, WEB)
    assert old is not None
    new = clients.rotate_client_secret(
        svc, actor, "web-app", timedelta(hours=1), expected_version=view.version
    )
    assert new != old
    assert accepts(svc, "web-app", new) and accepts(svc, "web-app", old)
    rotated = clients.get_client(svc, "web-app")
    assert rotated.previous_secret_expiry == clock.now() + timedelta(hours=1)
    assert rotated.version != view.version
    clock.advance(minutes=59)
    assert accepts(svc, "web-app", old)
    clock.advance(minutes=1)
    assert not accepts(svc, "web-app", old) and accepts(svc, "web-app", new)
    record = admin_records(svc)[-1]
    assert record["details"]["action"] == "client.rotate_secret"
    assert record["details"]["grace_seconds"] == 3600
    assert new not in json.dumps(admin_records(svc), default=str)
    assert old not in json.dumps(admin_records(svc), default=str)


def test_rotation_without_grace_ends_the_old_secret_at_once(svc: Services, actor: Actor) -> None:
    _, first = clients.create_client(svc, actor, WEB)
    second = clients.rotate_client_secret(svc, actor, "web-app", timedelta(days=1))
    third = clients.rotate_client_secret(svc, actor, "web-app")
    assert accepts(svc, "web-app", third)
    assert not accepts(svc, "web-app", second)
    assert not accepts(svc, "web-app", first or "")
    assert clients.get_client(svc, "web-app").previous_secret_expiry is None


def test_rotation_is_refused_where_it_cannot_apply(svc: Services, actor: Actor) -> None:
    view, secret = clients.create_client(svc, actor, WEB)
    clients.create_client(svc, actor, ClientSpec(id="cli", public=True))
    for client_id, grace, error in (
        ("web-app", timedelta(seconds=-1), Invalid),
        ("web-app", timedelta(days=31), Invalid),
        ("cli", timedelta(0), Invalid),
        (CLIENT_ID, timedelta(0), ReadOnly),
        ("nope", timedelta(0), NotFound),
    ):
        with pytest.raises(error):
            clients.rotate_client_secret(svc, actor, client_id, grace)
    clients.update_client(svc, actor, "web-app", {"name": "moved on"})
    with pytest.raises(Conflict):
        clients.rotate_client_secret(svc, actor, "web-app", expected_version=view.version)
    assert accepts(svc, "web-app", secret or "")


def test_every_client_write_bumps_the_generation_and_a_refused_one_does_not(
    svc: Services, actor: Actor
) -> None:
    start = svc.storage.generation()
    clients.create_client(svc, actor, WEB)
    clients.update_client(svc, actor, "web-app", {"name": "x"})
    clients.rotate_client_secret(svc, actor, "web-app")
    clients.delete_client(svc, actor, "web-app")
    assert svc.storage.generation() == start + 4
    with pytest.raises(Invalid):
        clients.create_client(svc, actor, dataclasses.replace(WEB, id="bad id"))
    with pytest.raises(ReadOnly):
        clients.update_client(svc, actor, CLIENT_ID, {"name": "x"})
    assert svc.storage.generation() == start + 4


def test_the_console_client_is_read_only(make_console_svc: Services, actor: Actor) -> None:
    svc = make_console_svc
    console = [c for c in clients.list_clients(svc) if c.id not in ("web-app",) and c.static]
    builtin = [c for c in console if c.id not in {s.id for s in svc.config.static_clients}]
    assert builtin, "the console's built-in client is listed"
    with pytest.raises(ReadOnly):
        clients.update_client(svc, actor, builtin[0].id, {"name": "x"})


def test_concurrent_updates_of_one_version_let_exactly_one_win(svc: Services, actor: Actor) -> None:
    view, _ = clients.create_client(svc, actor, WEB)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(name: str) -> None:
        barrier.wait()
        try:
            clients.update_client(
                svc, actor, "web-app", {"name": name}, expected_version=view.version
            )
            outcomes.append(name)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes)[0] == "conflict" and len(outcomes) == 2
    winner = next(o for o in outcomes if o != "conflict")
    assert clients.get_client(svc, "web-app").name == winner
