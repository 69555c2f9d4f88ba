"""Signing keys for the operator, on memory, SQLite and PostgreSQL: the key in use with its age,
retired keys after a forced rotation, the published JWKS without private members, and the
audit record of a rotation."""

from __future__ import annotations

import json
from datetime import timedelta

from dex_py.clock import FrozenClock
from dex_py.management import keys
from dex_py.management.actor import Actor
from dex_py.services import Services
from tests.management.test_clients import admin_records

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def test_key_set_describes_the_signing_key(svc: Services, clock: FrozenClock) -> None:
    clock.advance(hours=1)
    ks = keys.key_set(svc)
    [signing] = ks.keys
    assert signing.status == "signing" and signing.alg == ks.algorithm
    assert signing.created == ks.next_rotation - ks.rotation_period
    assert ks.signing_key_age == timedelta(hours=1)
    assert [k["kid"] for k in ks.jwks["keys"]] == [signing.kid]
    assert not PRIVATE_MEMBERS & set(ks.jwks["keys"][0])


def test_rotate_now_retires_the_old_key_and_is_audited(
    svc: Services, actor: Actor, clock: FrozenClock
) -> None:
    old = keys.key_set(svc).keys[0].kid
    clock.advance(minutes=5)
    new = keys.rotate_now(svc, actor)
    assert new != old
    ks = keys.key_set(svc)
    assert [(k.kid, k.status) for k in ks.keys] == [(new, "signing"), (old, "retired")]
    retired = ks.keys[1]
    assert retired.retired_at == clock.now()
    assert retired.expiry == clock.now() + svc.keys.id_token_lifetime
    assert ks.signing_key_age == timedelta(0)
    assert {k["kid"] for k in ks.jwks["keys"]} == {new, old}
    [record] = admin_records(svc)
    assert record["object"] == f"key:{old}"
    assert record["details"]["action"] == "key.rotate"
    assert record["details"]["new_kid"] == new
    stored = svc.storage.get_keys()
    assert stored.signing_key not in json.dumps(record, default=str)
    assert not PRIVATE_MEMBERS & set(json.loads(stored.signing_key_pub))
