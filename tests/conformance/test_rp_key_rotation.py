"""``oidcc-refresh-token-rp-key-rotation`` (comprehensive OP plan) on its own live dex-py, so
no other test's client-key fetches interfere with the OP's ``jwks_uri`` re-fetch limit."""

from __future__ import annotations

import time

import pytest

from tests.conformance.conftest import KEYED_ID, OP, keyed_rp

pytestmark = pytest.mark.live

JWKS_REFETCH_INTERVAL = 10.0  # dex_py.jose.client_assertions.JWKSCache.refetch_interval


@pytest.mark.slow
def test_oidcc_refresh_token_rp_key_rotation(op: OP) -> None:
    """oidcc-refresh-token-rp-key-rotation: after the RP replaces its key at jwks_uri (new
    kid), a refresh authenticated with the new key is accepted. Like the suite, wait past the
    OP's jwks_uri re-fetch limit first."""
    first_rp = keyed_rp(op, "rp-key-1")
    flow = first_rp.login(op.browser(), "openid offline_access", prompt="consent")
    refresh = flow.tokens["refresh_token"]
    fetched_at = time.monotonic()

    rotated = keyed_rp(op, "rp-key-2")
    time.sleep(max(0.0, JWKS_REFETCH_INTERVAL + 1 - (time.monotonic() - fetched_at)))
    token = rotated.oauth().refresh_token(op.meta["token_endpoint"], refresh_token=refresh)
    claims = op.verifier.id_token(
        token["id_token"], client_id=KEYED_ID, access_token=token["access_token"]
    )
    assert claims["sub"] == flow.claims["sub"]
    op.verifier.userinfo(rotated.userinfo(token["access_token"]), sub=claims["sub"])
