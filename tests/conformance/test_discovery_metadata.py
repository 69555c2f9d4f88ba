"""The discovery documents against the field lists of OpenID Connect Discovery 1.0 §3 and
RFC 8414 §2 (OAuth 2.0 Authorization Server Metadata), on a live dex-py served over HTTPS.

Every REQUIRED field is present, every field has the type its spec gives, every URL is absolute
https under the issuer, RFC 8414 §3 serves the metadata at the path-inserted well-known URL with
the same issuer, and every advertised endpoint actually answers (with the error a request
without credentials deserves, never 404/405/5xx).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conformance.conftest import OP

pytestmark = pytest.mark.live

STR, URL, LIST, BOOL = "string", "url", "list of strings", "boolean"

# OpenID Connect Discovery 1.0 §3: name -> (type, REQUIRED?)
OIDC_FIELDS: dict[str, tuple[str, bool]] = {
    "issuer": (URL, True),
    "authorization_endpoint": (URL, True),
    "token_endpoint": (URL, True),  # required unless only the implicit flow is used
    "userinfo_endpoint": (URL, False),  # RECOMMENDED
    "jwks_uri": (URL, True),
    "registration_endpoint": (URL, False),  # RECOMMENDED
    "scopes_supported": (LIST, False),  # RECOMMENDED
    "response_types_supported": (LIST, True),
    "response_modes_supported": (LIST, False),
    "grant_types_supported": (LIST, False),
    "acr_values_supported": (LIST, False),
    "subject_types_supported": (LIST, True),
    "id_token_signing_alg_values_supported": (LIST, True),
    "id_token_encryption_alg_values_supported": (LIST, False),
    "id_token_encryption_enc_values_supported": (LIST, False),
    "userinfo_signing_alg_values_supported": (LIST, False),
    "userinfo_encryption_alg_values_supported": (LIST, False),
    "userinfo_encryption_enc_values_supported": (LIST, False),
    "request_object_signing_alg_values_supported": (LIST, False),
    "request_object_encryption_alg_values_supported": (LIST, False),
    "request_object_encryption_enc_values_supported": (LIST, False),
    "token_endpoint_auth_methods_supported": (LIST, False),
    "token_endpoint_auth_signing_alg_values_supported": (LIST, False),
    "display_values_supported": (LIST, False),
    "claim_types_supported": (LIST, False),
    "claims_supported": (LIST, False),  # RECOMMENDED
    "service_documentation": (URL, False),
    "claims_locales_supported": (LIST, False),
    "ui_locales_supported": (LIST, False),
    "claims_parameter_supported": (BOOL, False),
    "request_parameter_supported": (BOOL, False),
    "request_uri_parameter_supported": (BOOL, False),
    "require_request_uri_registration": (BOOL, False),
    "op_policy_uri": (URL, False),
    "op_tos_uri": (URL, False),
    # OIDC RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1
    "end_session_endpoint": (URL, False),
    "backchannel_logout_supported": (BOOL, False),
    "backchannel_logout_session_supported": (BOOL, False),
    "frontchannel_logout_supported": (BOOL, False),
}
OIDC_RECOMMENDED = ("userinfo_endpoint", "scopes_supported", "claims_supported")

# RFC 8414 §2 (plus RFC 7009 / RFC 7662 / RFC 7636 registrations): name -> (type, REQUIRED?)
RFC8414_FIELDS: dict[str, tuple[str, bool]] = {
    "issuer": (URL, True),
    "authorization_endpoint": (URL, True),
    "token_endpoint": (URL, True),
    "jwks_uri": (URL, False),
    "registration_endpoint": (URL, False),
    "scopes_supported": (LIST, False),  # RECOMMENDED
    "response_types_supported": (LIST, True),
    "response_modes_supported": (LIST, False),
    "grant_types_supported": (LIST, False),
    "token_endpoint_auth_methods_supported": (LIST, False),
    "token_endpoint_auth_signing_alg_values_supported": (LIST, False),
    "service_documentation": (URL, False),
    "ui_locales_supported": (LIST, False),
    "op_policy_uri": (URL, False),
    "op_tos_uri": (URL, False),
    "revocation_endpoint": (URL, False),
    "revocation_endpoint_auth_methods_supported": (LIST, False),
    "revocation_endpoint_auth_signing_alg_values_supported": (LIST, False),
    "introspection_endpoint": (URL, False),
    "introspection_endpoint_auth_methods_supported": (LIST, False),
    "introspection_endpoint_auth_signing_alg_values_supported": (LIST, False),
    "code_challenge_methods_supported": (LIST, False),
}
SIGNING_ALG_LISTS = (
    "token_endpoint_auth_signing_alg_values_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
)
JWT_AUTH_METHODS = {"private_key_jwt", "client_secret_jwt"}


def fetch(url: str) -> dict[str, Any]:
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, f"{url}: {resp.status_code}"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body, dict)
    return body


def check_fields(meta: dict[str, Any], fields: dict[str, tuple[str, bool]], issuer: str) -> None:
    for name, (kind, required) in fields.items():
        if name not in meta:
            assert not required, f"REQUIRED field {name} missing"
            continue
        value = meta[name]
        if kind == BOOL:
            assert isinstance(value, bool), f"{name} must be a JSON boolean"
        elif kind == LIST:
            assert isinstance(value, list) and value, f"{name} must be a non-empty array"
            assert all(isinstance(v, str) and v for v in value), f"{name}: strings only"
            assert len(set(value)) == len(value), f"{name} has duplicates"
        else:
            assert isinstance(value, str), f"{name} must be a string"
            parts = urlsplit(value)
            assert parts.scheme == "https" and parts.netloc, f"{name} is not an absolute https URL"
            assert not parts.fragment, f"{name} must not have a fragment"
            if name != "issuer" and name.endswith(("_endpoint", "_uri")):
                assert value.startswith(issuer + "/"), f"{name} not under the issuer: {value}"


def check_consistency(meta: dict[str, Any]) -> None:
    """Cross-field rules of the two specs."""
    issuer = meta["issuer"]
    parts = urlsplit(issuer)
    assert not parts.query and not parts.fragment, "issuer: no query or fragment (RFC 8414 §2)"
    assert "openid" in meta["scopes_supported"], "OIDC Discovery §3: openid MUST be listed"
    assert "RS256" in meta["id_token_signing_alg_values_supported"], "RS256 MUST be included"
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    # RFC 8414 §2: "none" MUST NOT appear in the *_auth_signing_alg_values_supported lists,
    # and they are REQUIRED when a JWT client authentication method is advertised.
    for prefix in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        methods = set(meta.get(f"{prefix}_auth_methods_supported", []))
        algs = meta.get(f"{prefix}_auth_signing_alg_values_supported")
        if methods & JWT_AUTH_METHODS:
            assert algs, f"{prefix}_auth_signing_alg_values_supported required"
        assert "none" not in (algs or [])
    # Response types and modes: what OAuth 2.0 Multiple Response Types defines.
    allowed_types = {"code", "token", "id_token", "none"}
    for rt in meta["response_types_supported"]:
        assert set(rt.split(" ")) <= allowed_types, rt
    assert set(meta.get("response_modes_supported", [])) <= {"query", "fragment", "form_post"}
    assert set(meta.get("code_challenge_methods_supported", [])) <= {"plain", "S256"}
    assert "S256" in meta["code_challenge_methods_supported"], "RFC 9700 §2.1.1"
    assert set(meta["subject_types_supported"]) <= {"public", "pairwise"}
    if "request_uri_parameter_supported" in meta and not meta["request_uri_parameter_supported"]:
        assert not meta.get("require_request_uri_registration", False)


def test_openid_configuration_matches_oidc_discovery_fields(https_op: OP) -> None:
    """OpenID Connect Discovery 1.0 §3: required fields, types, recommended fields."""
    meta = fetch(https_op.issuer + "/.well-known/openid-configuration")
    assert meta["issuer"] == https_op.issuer, "OIDC Discovery §4.3: issuer must match exactly"
    check_fields(meta, OIDC_FIELDS, https_op.issuer)
    for name in OIDC_RECOMMENDED:
        assert name in meta, f"RECOMMENDED field {name} missing"
    check_consistency(meta)


def test_oauth_authorization_server_metadata_matches_rfc8414(https_op: OP) -> None:
    """RFC 8414 §2 fields and §3 location: ``/.well-known/oauth-authorization-server`` inserted
    before the issuer's path (and under the issuer, as Dex clients look), same issuer."""
    issuer = https_op.issuer
    parts = urlsplit(issuer)
    inserted = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
    for url in (inserted, issuer + "/.well-known/oauth-authorization-server"):
        meta = fetch(url)
        assert meta["issuer"] == issuer, f"RFC 8414 §3.3: issuer mismatch at {url}"
        check_fields(meta, RFC8414_FIELDS, issuer)
        assert "scopes_supported" in meta, "RECOMMENDED field scopes_supported missing"
        check_consistency(meta)
    oidc = fetch(issuer + "/.well-known/openid-configuration")
    assert fetch(inserted) == oidc, "the two metadata documents must agree"


def test_every_advertised_endpoint_answers(https_op: OP) -> None:
    """Each advertised endpoint exists and answers a credential-less request with the proper
    error for its protocol, not 404/405/5xx."""
    meta = fetch(https_op.issuer + "/.well-known/openid-configuration")
    advertised = {k for k in meta if k.endswith("_endpoint") or k == "jwks_uri"}
    checked: set[str] = set()

    def check(name: str, resp: requests.Response, statuses: set[int]) -> requests.Response:
        assert resp.status_code in statuses, f"{name}: {resp.status_code} {resp.text[:200]}"
        checked.add(name)
        return resp

    check("jwks_uri", requests.get(meta["jwks_uri"], timeout=10), {200})
    auth = check(
        "authorization_endpoint",
        requests.get(meta["authorization_endpoint"], allow_redirects=False, timeout=10),
        {400},
    )
    assert "text/html" in auth.headers["Content-Type"], "no client_id: an error page"
    token = check(
        "token_endpoint", requests.post(meta["token_endpoint"], data={}, timeout=10), {400}
    )
    assert token.json()["error"] == "invalid_request"
    info = check("userinfo_endpoint", requests.get(meta["userinfo_endpoint"], timeout=10), {401})
    assert info.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    for name in ("revocation_endpoint", "introspection_endpoint"):
        resp = check(name, requests.post(meta[name], data={"token": "x"}, timeout=10), {401})
        assert resp.json()["error"] == "invalid_client"
    end = check(
        "end_session_endpoint",
        requests.get(meta["end_session_endpoint"], allow_redirects=False, timeout=10),
        {200},
    )
    assert "text/html" in end.headers["Content-Type"]
    assert advertised == checked, f"not probed: {advertised - checked}"
