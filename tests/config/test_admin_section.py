"""The ``admin`` section: who is an admin, which clients may ask for ``dex-py:admin``."""

from __future__ import annotations

import pytest

from dex_py.config.admin import AdminPolicy
from dex_py.config.model import ConfigError


def test_nobody_is_admin_without_the_section() -> None:
    policy = AdminPolicy.from_config(None)
    assert not policy.is_admin(email="a@example.com", email_verified=True, teams=("admins",))
    assert not policy.api_client("automation")


def test_team_or_verified_email_makes_an_admin() -> None:
    policy = AdminPolicy.from_config(
        {"teams": ["platform"], "emails": ["Ops@Example.com"], "clients": ["automation"]}
    )
    assert policy.is_admin(email="", email_verified=False, teams=("dev", "platform"))
    assert policy.is_admin(email="ops@example.COM", email_verified=True, teams=())
    # an unverified email proves nothing
    assert not policy.is_admin(email="ops@example.com", email_verified=False, teams=())
    assert not policy.is_admin(email="dev@example.com", email_verified=True, teams=("dev",))
    assert policy.api_client("automation")
    assert not policy.api_client("Automation")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"team": ["x"]}, "admin.team"),
        ({"teams": "platform"}, "admin.teams"),
        ({"emails": [""]}, "admin.emails"),
        ({"clients": [3]}, "admin.clients"),
        (["teams"], "admin"),
    ],
)
def test_bad_values_name_their_key(section: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AdminPolicy.from_config(section)
    assert [path for path, _ in caught.value.errors] == [key]
