"""The OpenID Foundation's Config OP test plan (plus the key-rotation and logout-discovery
modules that look at the same metadata), against a live dex-py served over HTTPS.

- ``oidcc-discovery-endpoint-verification``: what the suite checks in the discovery document;
- ``oidcc-server-rotate-keys``: a forced rotation (``dex-py keys rotate CONFIG``) publishes a
  new key, keeps the old one published, and new ID tokens are signed with the new key;
- ``oidcc-rp-initiated-logout-discovery-endpoint-verification`` (RP-Initiated Logout OP plan).
"""

from __future__ import annotations

import re
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.conformance.conftest import OP, RESPONSE_TYPES
from tests.conformance.rp import Browser
from tests.conformance.verifier import unverified_parts
from tests.live import REPO_ROOT, _dex_py_command

pytestmark = pytest.mark.live

KEY_REFRESH_INTERVAL = 5.0  # dex_py.jose.keys.KeyManager re-reads storage at most this often
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, roughly


def endpoints(meta: dict) -> dict[str, str]:
    return {k: v for k, v in meta.items() if k.endswith("_endpoint") or k == "jwks_uri"}


def _kid(token: str) -> str:
    return str(unverified_parts(token)[0]["kid"])


def check_jwks(jwks: dict) -> set[str]:
    """RFC 7517 §5 / OIDC Core §10.1: public keys only, each with a distinct kid."""
    keys = jwks["keys"]
    assert keys, "no keys published"
    kids = [k.get("kid") for k in keys]
    assert all(isinstance(k, str) and k for k in kids), "every key needs a kid"
    assert len(set(kids)) == len(kids), "kids must be distinct"
    for key in keys:
        assert key["kty"] in ("RSA", "EC"), "no symmetric keys in a JWKS"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), "private key material"
        assert key.get("use", "sig") == "sig"
    return set(kids)


def test_oidcc_discovery_endpoint_verification(https_op: OP) -> None:
    """oidcc-discovery-endpoint-verification: the discovery document as the suite checks it."""
    resp = requests.get(https_op.issuer + "/.well-known/openid-configuration", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    meta = resp.json()
    issuer = https_op.issuer
    # CheckDiscEndpointIssuer / IssuerIsValidUrl: exact, https, no query or fragment.
    assert meta["issuer"] == issuer
    parts = urlsplit(issuer)
    assert parts.scheme == "https" and not parts.query and not parts.fragment
    # OIDCCCheckDiscEndpointResponseTypesSupported (static client): code at least.
    assert "code" in meta["response_types_supported"]
    assert {" ".join(sorted(t.split())) for t in RESPONSE_TYPES} == {
        " ".join(sorted(t.split())) for t in meta["response_types_supported"]
    }
    assert meta["subject_types_supported"] and set(meta["subject_types_supported"]) <= {
        "public",
        "pairwise",
    }
    # OIDC Discovery §3: RS256 MUST be included; never "none" for a server that signs.
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    # Endpoints present and https (CheckDiscEndpointAllEndpointsAreHttps).
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert name in meta, name
    for name, url in endpoints(meta).items():
        assert urlsplit(url).scheme == "https", f"{name} is not https: {url}"
    assert "registration_endpoint" not in meta, "no dynamic registration: none advertised"
    jwks = requests.get(meta["jwks_uri"], timeout=10)
    assert jwks.status_code == 200
    check_jwks(jwks.json())
    # Booleans for the optional request features.
    for flag in (
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "claims_parameter_supported",
    ):
        assert isinstance(meta.get(flag, False), bool), flag
    assert "openid" in meta["scopes_supported"]
    assert all(_SCOPE_TOKEN.match(s) for s in meta["scopes_supported"])
    for name in ("claims_locales_supported", "ui_locales_supported"):
        assert all(_LOCALE.match(x) for x in meta.get(name, []))
    assert {"sub", "iss"} <= set(meta["claims_supported"])
    # OIDCCCheckDiscEndpointGrantTypesSupported: authorization_code (and implicit when
    # implicit response types are offered, or the default which includes both).
    grants = meta.get("grant_types_supported", ["authorization_code", "implicit"])
    assert "authorization_code" in grants
    assert isinstance(meta["code_challenge_methods_supported"], list)


def test_oidcc_server_rotate_keys(https_op: OP) -> None:
    """oidcc-server-rotate-keys: after ``dex-py keys rotate`` the JWKS has a new signing key and
    still the old one, and new ID tokens are signed with the new key."""
    op = https_op
    rp = op.rp()
    before = check_jwks(requests.get(op.meta["jwks_uri"], timeout=10).json())
    first = rp.login(op.browser())
    old_kid = _kid(first.tokens["id_token"])
    assert old_kid in before

    rotated_at = time.monotonic()
    out = subprocess.run(
        [*_dex_py_command(), "keys", "rotate", str(op.server.config_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    match = re.search(r"signing key (\S+)", out.stdout)
    assert match, out.stdout
    new_kid = match.group(1)
    assert new_kid != old_kid

    # Every server process re-reads the key set at most KEY_REFRESH_INTERVAL after it changed.
    time.sleep(max(0.0, KEY_REFRESH_INTERVAL + 0.5 - (time.monotonic() - rotated_at)))
    after = check_jwks(requests.get(op.meta["jwks_uri"], timeout=10).json())
    assert new_kid in after, "VerifyNewJwksHasNewSigningKey"
    assert old_kid in after, "VerifyNewJwksStillHasOldSigningKey: tokens it signed still verify"
    for _ in range(3):  # each login may reach a different worker process
        second = rp.login(Browser(op.issuer))
        assert _kid(second.tokens["id_token"]) == new_kid
    # The verifier (a relying party) accepts tokens signed by either key.
    op.verifier.id_token(
        first.tokens["id_token"],
        client_id=rp.client.id,
        nonce=first.request.nonce,
        access_token=first.tokens["access_token"],
    )


def test_oidcc_rp_initiated_logout_discovery_endpoint_verification(https_op: OP) -> None:
    """oidcc-rp-initiated-logout-discovery-endpoint-verification: end_session_endpoint is
    advertised, https, and answers."""
    url = https_op.meta["end_session_endpoint"]
    assert urlsplit(url).scheme == "https"
    assert url.startswith(https_op.issuer + "/")
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and "text/html" in resp.headers["Content-Type"]
