"""Builders of storage entities for the conformance suite: every field set to a non-default
value, so a backend that drops or mangles a field fails a round-trip test."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dex_py.storage.base import (
    PKCE,
    Approval,
    AuthCode,
    AuthRequest,
    Claims,
    Client,
    Connector,
    DeviceRequest,
    Keys,
    LogoutEvent,
    MFAState,
    Password,
    RefreshToken,
    Session,
    VerificationKey,
    WebAuthnCredential,
)

# Microseconds on purpose: MySQL DATETIME without fsp would drop them.
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def uid(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def claims(**over: Any) -> Claims:
    base = Claims(
        user_id="user-1",
        username="Jöhn Dœ",
        preferred_username="jdoe",
        email="jdoe@example.com",
        email_verified=True,
        groups=("admins", "ops 🚀"),
        amr=("pwd", "otp", "mfa"),
        acr="urn:dex-py:acr:mfa",
    )
    return replace(base, **over)


def auth_request(**over: Any) -> AuthRequest:
    base = AuthRequest(
        id=uid("ar-"),
        client_id="client-a",
        response_types=("code", "id_token"),
        scopes=("openid", "email", "groups"),
        redirect_uri="https://app.example.com/callback?x=1",
        state="state-ß",
        nonce="nonce-1",
        expiry=T0 + timedelta(minutes=10),
        force_approval_prompt=True,
        logged_in=True,
        claims=claims(),
        connector_id="ldap",
        connector_data=bytes(range(256)),
        pkce=PKCE("challenge-abc", "S256"),
        browser_binding="b" * 64,
        response_mode="form_post",
        prompt="login consent",
        max_age=300,
        login_hint="jdoe@example.com",
        auth_time=T0,
        session_id="sess-ar",
        acr_values="urn:dex-py:acr:mfa urn:dex-py:acr:pwd",
    )
    return replace(base, **over)


def auth_code(**over: Any) -> AuthCode:
    base = AuthCode(
        id=uid("ac-"),
        client_id="client-a",
        redirect_uri="https://app.example.com/callback",
        nonce="nonce-2",
        scopes=("openid", "offline_access"),
        claims=claims(),
        connector_id="ldap",
        expiry=T0 + timedelta(minutes=5),
        connector_data=b"\x00opaque\xff",
        pkce=PKCE("c", "plain"),
        auth_time=T0 - timedelta(seconds=30),
        used_at=T0 + timedelta(seconds=1),
        issued_refresh_token_id="rt-1",
        issued_access_token_id="jti-1",
        issued_access_token_expiry=T0 + timedelta(hours=1),
        session_id="sess-ac",
    )
    return replace(base, **over)


def refresh_token(**over: Any) -> RefreshToken:
    base = RefreshToken(
        id=uid("rt-"),
        token_hash="a" * 64,
        client_id="client-a",
        scopes=("openid", "offline_access"),
        claims=claims(),
        connector_id="ldap",
        created_at=T0,
        last_used=T0 + timedelta(minutes=1),
        nonce="n",
        obsolete_token_hash="b" * 64,
        connector_data=b"refresh-data",
        auth_time=T0,
        expiry=T0 + timedelta(days=30),
        session_id="sess-rt",
        successor_sealed="s" * 96,
        retired_token_hashes=("b" * 64, "c" * 64),
    )
    return replace(base, **over)


def password(**over: Any) -> Password:
    base = Password(
        email=f"{uid()}@example.com",
        hash=b"$2b$10$" + bytes(range(128, 180)),
        username="Zoë",
        user_id=uid("u-"),
        groups=("staff",),
    )
    return replace(base, **over)


def client(**over: Any) -> Client:
    base = Client(
        id=uid("client-"),
        secret_hash="c" * 64,
        redirect_uris=("https://a.example/cb", "http://127.0.0.1:5555/callback"),
        trusted_peers=("peer-1",),
        public=True,
        name="Client ✓",
        logo_url="https://a.example/logo.png",
        allowed_connectors=("ldap",),
        allowed_groups=("admins",),
        grant_types=("authorization_code", "refresh_token"),
        post_logout_redirect_uris=("https://a.example/bye",),
        token_endpoint_auth_method="private_key_jwt",
        jwks='{"keys":[{"kty":"EC","crv":"P-256","x":"ẋ","y":"y","kid":"c1"}]}',
        jwks_uri="https://a.example/jwks.json",
        backchannel_logout_uri="https://a.example/backchannel-logout?ä=1",
        skip_approval=True,
    )
    return replace(base, **over)


def connector(**over: Any) -> Connector:
    base = Connector(
        id=uid("conn-"),
        type="ldap",
        name="Corporate LDAP",
        config={"host": "ldap.example.com:636", "bindDN": "cn=ö", "nested": {"list": [1, 2]}},
        resource_version="1",
    )
    return replace(base, **over)


def keys(**over: Any) -> Keys:
    base = Keys(
        signing_key='{"kty":"EC","kid":"' + uid() + '","d":"secret"}',
        signing_key_pub='{"kty":"EC","kid":"k1"}',
        verification_keys=(
            VerificationKey('{"kty":"EC","kid":"old1"}', T0 + timedelta(hours=6)),
            VerificationKey('{"kty":"EC","kid":"old2"}', T0 + timedelta(hours=12, microseconds=7)),
        ),
        next_rotation=T0 + timedelta(hours=6),
    )
    return replace(base, **over)


def session(**over: Any) -> Session:
    base = Session(
        id=uid("sess-"),
        secret_hash="d" * 64,
        claims=claims(),
        connector_id="ldap",
        auth_time=T0 - timedelta(minutes=3),
        created_at=T0 - timedelta(minutes=3, microseconds=1),
        last_active=T0,
        expiry=T0 + timedelta(hours=8),
        connector_data=b"\x00session\xff",
        clients=("client-a", "client-b"),
        approved_clients=("client-a",),
        approvals=(
            Approval("client-a", ("openid", "email", "offline_access")),
            Approval("client-b", ("openid",)),
        ),
        connector_scopes=("groups",),
    )
    return replace(base, **over)


def logout_event(**over: Any) -> LogoutEvent:
    base = LogoutEvent(
        id=uid("le-"),
        client_id="client-a",
        uri="https://a.example/backchannel-logout?ä=1",
        sid="sess-1",
        sub="CgZ1c2VyLTESBGxkYXA",
        created_at=T0,
        status="failed",
        attempts=5,
        next_attempt=T0 + timedelta(minutes=2, microseconds=9),
        last_error="HTTP 503 from https://a.example: Ünavailable",
    )
    return replace(base, **over)


def user_code() -> str:
    """8 letters of RFC 8628's alphabet, random enough that two tests never share one."""
    alphabet = "BCDFGHJKLMNPQRSTVWXZ"
    n = uuid.uuid4().int
    return "".join(alphabet[(n >> (5 * i)) % 20] for i in range(8))


def device_request(**over: Any) -> DeviceRequest:
    base = DeviceRequest(
        id=uid("dr-"),
        user_code=user_code(),
        client_id="client-a",
        scopes=("openid", "groups", "offline_access"),
        expiry=T0 + timedelta(minutes=5),
        interval=10,
        last_poll=T0 + timedelta(seconds=3, microseconds=7),
        status="approved",
        state_hash="f" * 64,
        claims=claims(),
        connector_id="ldap",
        connector_data=b"\x00\xffconnector",
        auth_time=T0 + timedelta(seconds=1),
        session_id="sess-1",
        nonce="n-1",
    )
    return replace(base, **over)


def mfa_state(**over: Any) -> MFAState:
    base = MFAState(
        id=uid("CgZ1c2VyLTESBWxvY2Fs-"),
        totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        totp_confirmed=True,
        totp_last_step=59_000_123,
        webauthn_credentials=(
            WebAuthnCredential(
                id="Y3JlZC0x",
                public_key=bytes(range(77)),
                sign_count=7,
                name="YubiKey 5 ✓",
                created_at=T0,
            ),
            WebAuthnCredential(id="Y3JlZC0y", public_key=b"\x00\xff", name="laptop"),
        ),
        recovery_code_hashes=("a" * 64, "b" * 64),
        updated_at=T0,
    )
    return replace(base, **over)
