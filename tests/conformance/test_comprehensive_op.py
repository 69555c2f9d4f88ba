"""Modules of the OpenID Foundation's comprehensive OP plan (``oidcc-test-plan``) not already in
the Basic OP plan: redirect URI matching, ID token and UserInfo algorithms, request_uri,
dynamic registration (which dex-py does not offer), and ``private_key_jwt`` client
authentication (the RP key rotation module has its own server: ``test_rp_key_rotation.py``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from tests.conformance.conftest import (
    CLIENT,
    KEYED_ID,
    OP,
    QUERY_REDIRECT_URI,
    keyed_rp,
)
from tests.conformance.rp import ClientInfo, PageShown
from tests.conformance.verifier import AUTHORIZATION_ERRORS, check_error_text, unverified_parts
from tests.live import EXAMPLE_REDIRECT_URI, REPO_ROOT, _dex_py_command

pytestmark = pytest.mark.live


def error_page(op: OP, url: str) -> requests.Response:
    """The OP must show an error page (never redirect) for a bad redirect URI."""
    with pytest.raises(PageShown) as shown:
        op.browser().authorize(url, login=False)
    resp = shown.value.resp
    assert resp.status_code == 400 and "text/html" in resp.headers["Content-Type"]
    return resp


# --- redirect URIs ----------------------------------------------------------------------------


def test_oidcc_redirect_uri_query_ok(op: OP) -> None:
    """oidcc-redirect-uri-query-OK: a registered redirect URI with a query works, and the
    query is kept alongside the response parameters."""
    rp = op.rp(ClientInfo(CLIENT.id, CLIENT.secret, QUERY_REDIRECT_URI))
    flow = rp.login(op.browser())
    assert flow.response.params["foo"] == "bar"
    assert flow.response.url.startswith(QUERY_REDIRECT_URI.split("?")[0] + "?")


def test_oidcc_redirect_uri_query_mismatch(op: OP) -> None:
    """oidcc-redirect-uri-query-mismatch: a different query value is a different URI."""
    rp = op.rp()
    error_page(op, rp.request(redirect_uri=QUERY_REDIRECT_URI.replace("bar", "zot")).url)


def test_oidcc_redirect_uri_query_added(op: OP) -> None:
    """oidcc-redirect-uri-query-added: adding a query to a registered URI is refused."""
    rp = op.rp()
    error_page(op, rp.request(redirect_uri=EXAMPLE_REDIRECT_URI + "?foo=bar").url)


def test_oidcc_redirect_uri_regfrag(op: OP, tmp_path: Path) -> None:
    """oidcc-redirect-uri-regfrag: a redirect URI with a fragment cannot be registered (OAuth
    2.0 §3.1.2); for a static-client OP that is config validation. At /auth it is unknown."""
    config = yaml.safe_load(op.server.config_path.read_text())
    config["staticClients"][0]["redirectURIs"].append(EXAMPLE_REDIRECT_URI + "#frag")
    path = tmp_path / "frag.yaml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(
        [*_dex_py_command(), "check-config", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "staticClients[0].redirectURIs[2]" in out.stdout + out.stderr
    assert "fragment" in out.stdout + out.stderr
    error_page(op, op.rp().request(redirect_uri=EXAMPLE_REDIRECT_URI + "#frag").url)


def test_oidcc_ensure_redirect_uri_in_authorization_request(op: OP) -> None:
    """oidcc-ensure-redirect-uri-in-authorization-request: redirect_uri is REQUIRED in OIDC
    (Core §3.1.2.1); without it the OP shows an error page."""
    error_page(op, op.rp().request(redirect_uri=None).url)


# --- algorithms and unsupported features ------------------------------------------------------


def test_oidcc_idtoken_rs256(op: OP) -> None:
    """oidcc-idtoken-rs256: the ID token is RS256-signed and verifies."""
    flow = op.rp().login(op.browser())
    assert unverified_parts(flow.tokens["id_token"])[0]["alg"] == "RS256"


def test_oidcc_userinfo_rs256(op: OP) -> None:
    """oidcc-userinfo-rs256: signed UserInfo needs dynamic registration; dex-py advertises no
    userinfo signing algorithms and answers plain JSON, which the suite accepts."""
    assert "userinfo_signing_alg_values_supported" not in op.meta
    rp = op.rp()
    flow = rp.login(op.browser())
    resp = rp.userinfo(flow.tokens["access_token"])
    assert resp.headers["Content-Type"].startswith("application/json")
    op.verifier.userinfo(resp, sub=flow.claims["sub"])


@pytest.mark.parametrize(
    "module",
    [
        "oidcc-registration-dynamic",
        "oidcc-registration-jwks-uri",
        "oidcc-registration-logo-uri",
        "oidcc-registration-policy-uri",
        "oidcc-registration-sector-uri",
        "oidcc-registration-sector-bad",
        "oidcc-registration-tos-uri",
    ],
)
def test_oidcc_registration(op: OP, module: str) -> None:
    """oidcc-registration-*: dynamic client registration is not offered (no
    registration_endpoint); there is no endpoint that would create a client."""
    assert "registration_endpoint" not in op.meta, module
    resp = requests.post(
        op.issuer + "/register", json={"redirect_uris": ["https://rp.example/cb"]}, timeout=10
    )
    assert resp.status_code == 404


@pytest.mark.parametrize(
    ("module", "request_uri"),
    [
        ("oidcc-request-uri-unsigned", "https://rp.example/unsigned.jwt"),
        ("oidcc-request-uri-signed-rs256", "https://rp.example/signed.jwt"),
    ],
)
def test_oidcc_request_uri(op: OP, module: str, request_uri: str) -> None:
    """oidcc-request-uri-unsigned, oidcc-request-uri-signed-rs256: request_uri is refused with
    request_uri_not_supported, as discovery announces."""
    assert op.meta["request_uri_parameter_supported"] is False
    flow = op.rp().authorize(op.browser(), request_uri=request_uri, login=False)
    assert check_error_text(flow.response.params, AUTHORIZATION_ERRORS) == (
        "request_uri_not_supported"
    ), module


# --- private_key_jwt --------------------------------------------------------------------------


def test_oidcc_ensure_client_assertion_with_iss_aud_succeeds(op: OP) -> None:
    """oidcc-ensure-client-assertion-with-iss-aud-succeeds: a client assertion whose aud is
    the issuer (OIDC Core §9 allows it besides the token endpoint URL) is accepted."""
    assert "private_key_jwt" in op.meta["token_endpoint_auth_methods_supported"]
    rp = keyed_rp(op, "iss-aud-key", audience=op.issuer)
    flow = rp.login(op.browser())
    assert flow.claims["aud"] == KEYED_ID
