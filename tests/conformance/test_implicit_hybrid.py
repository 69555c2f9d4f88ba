"""The Implicit and Hybrid OP plans' core modules (and their Form Post variants) against a live
dex-py with every response type enabled.

``oidcc-server`` runs once per response type and response mode: the right parameters come
back (and no others), ``at_hash``/``c_hash`` are present where OIDC Core §3.2.2.10 / §3.3.2.11
require them and correct, the code redeems to an ID token with the same ``iss``/``sub``, and a
front-channel access token works at UserInfo. ``oidcc-ensure-request-without-nonce-fails``
checks that every flow returning an ID token or token from ``/auth`` requires a nonce.
"""

from __future__ import annotations

import pytest

from tests.conformance.conftest import CLIENT, OP, RESPONSE_TYPES
from tests.conformance.verifier import AUTHORIZATION_ERRORS, check_error_text

pytestmark = pytest.mark.live

FRONT_CHANNEL_TYPES = [t for t in RESPONSE_TYPES if t != "code"]
MODES = pytest.mark.parametrize("response_mode", [None, "form_post"], ids=["default", "formpost"])


@MODES
@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_oidcc_server(op: OP, response_type: str, response_mode: str | None) -> None:
    """oidcc-server for the implicit and hybrid response types."""
    rp = op.rp(CLIENT, response_type=response_type, response_mode=response_mode)
    flow = rp.authorize(op.browser(), "openid email")
    params = flow.response.params
    types = set(response_type.split())
    assert ("code" in params) == ("code" in types)
    assert ("id_token" in params) == ("id_token" in types)
    assert ("access_token" in params) == ("token" in types)
    front: dict = {}
    if "token" in types:
        assert params["token_type"].lower() == "bearer"
        assert int(params["expires_in"]) > 0
    if "id_token" in types:
        front = op.verifier.id_token(
            params["id_token"],
            client_id=CLIENT.id,
            nonce=flow.request.nonce,
            access_token=params.get("access_token"),
            code=params.get("code"),
            # §3.2.2.10 / §3.3.2.11: at_hash with a front-channel access token, c_hash with
            # a front-channel code.
            require_at_hash="token" in types,
            require_c_hash="code" in types,
        )
    if "token" in types:
        sub = front.get("sub")
        info = rp.userinfo(params["access_token"])
        assert info.status_code == 200, info.text
        if sub:
            op.verifier.userinfo(info, sub=sub)
    if "code" in types:
        tokens = rp.redeem(flow)
        back = op.verifier.id_token(
            tokens["id_token"],
            client_id=CLIENT.id,
            nonce=flow.request.nonce,
            access_token=tokens["access_token"],
        )
        if front:  # OIDC Core §3.3.3.6: iss and sub identical in both ID tokens
            assert (back["iss"], back["sub"]) == (front["iss"], front["sub"])


@MODES
@pytest.mark.parametrize("response_type", FRONT_CHANNEL_TYPES)
def test_oidcc_ensure_request_without_nonce_fails(
    op: OP, response_type: str, response_mode: str | None
) -> None:
    """oidcc-ensure-request-without-nonce-fails: nonce is REQUIRED for implicit and hybrid
    requests (OIDC Core §3.2.2.1, §3.3.2.11); the error goes back to the client."""
    rp = op.rp(CLIENT, response_type=response_type, response_mode=response_mode)
    flow = rp.authorize(op.browser(), nonce=False, login=False)
    assert check_error_text(flow.response.params, AUTHORIZATION_ERRORS) == "invalid_request"
    assert not {"code", "id_token", "access_token"} & set(flow.response.params)
