"""WebAuthn passkeys and security keys (W3C Web Authentication Level 2, on ``webauthn`` from
PyPI): registration options and verification, assertion options and verification.

The relying party id is the issuer's host and the expected origin the issuer's scheme, host and
port. User verification is preferred, not required (a security key without a PIN still works,
RFC 8176 ``hwk``/``swk`` either way); attestation is not asked for. Several credentials per user;
the registration excludes those the user has. The challenge is an HMAC of the ceremony (the
auth request, or the session for registration) under the browser's secret cookie: unguessable to
anyone without that cookie and tied to this one ceremony, so no server-side state is needed.

The authenticator's signature counter is checked by ``webauthn`` against the stored one (a
counter that did not grow means a cloned authenticator) and stored again through the storage's
atomic update, which refuses the write if another login moved the counter meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from dex_py.storage.base import MFAState, WebAuthnCredential

MAX_RESPONSE_LENGTH = 64 * 1024
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the issuer's host
    origin: str  # scheme://host[:port]
    name: str

    @classmethod
    def of_issuer(cls, issuer: str, name: str) -> RelyingParty:
        parts = urlsplit(issuer)
        return cls(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}", name=name)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def challenge(browser_secret: str, ceremony: str) -> bytes:
    """The challenge of one ceremony for this browser (see the module docstring)."""
    return hmac.new(
        browser_secret.encode(), b"webauthn:" + ceremony.encode(), hashlib.sha256
    ).digest()


def registration_options(
    rp: RelyingParty, user_key: str, user_name: str, state: MFAState | None, challenge: bytes
) -> str:
    """The JSON ``PublicKeyCredentialCreationOptions`` for the browser."""
    existing = state.webauthn_credentials if state is not None else ()
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user_name,
        user_id=hashlib.sha256(user_key.encode()).digest(),
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64url(c.id)) for c in existing],
    )
    return webauthn.options_to_json(options)


def verify_registration(
    rp: RelyingParty, response: str, challenge: bytes, name: str, now: datetime
) -> tuple[WebAuthnCredential, str] | None:
    """The new credential and the RFC 8176 method it proves (``hwk``, or ``swk`` for a synced
    passkey), or ``None`` when the browser's answer does not verify."""
    if not response or len(response) > MAX_RESPONSE_LENGTH:
        return None
    try:
        verified = webauthn.verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError):
        return None
    credential = WebAuthnCredential(
        id=b64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=(name.strip() or "passkey")[:MAX_NAME_LENGTH],
        created_at=now,
    )
    return credential, _method(verified.credential_device_type)


def _method(device_type: CredentialDeviceType) -> str:
    return "swk" if device_type == CredentialDeviceType.MULTI_DEVICE else "hwk"


def authentication_options(rp: RelyingParty, state: MFAState, challenge: bytes) -> str:
    """The JSON ``PublicKeyCredentialRequestOptions`` for the user's credentials."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=unb64url(c.id)) for c in state.webauthn_credentials
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return webauthn.options_to_json(options)


@dataclass(frozen=True)
class Assertion:
    credential_id: str
    old_sign_count: int
    new_sign_count: int
    method: str  # RFC 8176: hwk for a device-bound key, swk for a synced passkey


def verify_assertion(
    rp: RelyingParty, state: MFAState, response: str, challenge: bytes
) -> Assertion | None:
    """Which of the user's credentials signed, with its new counter; ``None`` when the answer
    does not verify (wrong key, origin, challenge, or a counter that did not grow)."""
    if not response or len(response) > MAX_RESPONSE_LENGTH:
        return None
    try:
        credential_id = str(json.loads(response).get("id", ""))
    except (ValueError, AttributeError):
        return None
    stored = next((c for c in state.webauthn_credentials if c.id == credential_id), None)
    if stored is None:
        return None
    try:
        verified = webauthn.verify_authentication_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return None
    method = _method(verified.credential_device_type)
    return Assertion(stored.id, stored.sign_count, verified.new_sign_count, method)
