"""Checking and changing a user's second factors in storage (``MFAState``), with the
single-use rules: a TOTP step is accepted once (``totp_last_step`` only moves forward, inside
the storage's atomic update, so two requests with the same code cannot both pass) and a recovery
code is removed as it is accepted.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime

from dex_py.config.mfa import MFAPolicy
from dex_py.mfa import recovery, totp
from dex_py.mfa.passkeys import Assertion
from dex_py.second_factor import AMR_OTP
from dex_py.storage.base import (
    AlreadyExistsError,
    MFAState,
    NotFoundError,
    Storage,
    WebAuthnCredential,
)


class _Refused(Exception):
    """The code was valid a moment ago but another request used it first."""


def check_code(
    storage: Storage, policy: MFAPolicy, state: MFAState, code: str, now: datetime
) -> str | None:
    """Accept ``code`` (a TOTP code or a recovery code) for this user, once: the RFC 8176
    method it proves, or ``None``."""
    if policy.allows("totp") and state.totp_confirmed:
        step = totp.matching_step(state.totp_secret, code, now)
        if step is not None and _use(storage, state.id, lambda s: _use_step(s, step, now)):
            return AMR_OTP
    if policy.allows("recovery"):
        stored = recovery.matching(state.recovery_code_hashes, code)
        if stored is not None and _use(storage, state.id, lambda s: _use_recovery(s, stored, now)):
            return AMR_OTP
    return None


def _use(storage: Storage, key: str, fn: object) -> bool:
    try:
        storage.update_mfa_state(key, fn)  # type: ignore[arg-type]
    except (_Refused, NotFoundError):
        return False
    return True


def _use_step(state: MFAState, step: int, now: datetime) -> MFAState:
    if not state.totp_confirmed or step <= state.totp_last_step:
        raise _Refused
    return replace(state, totp_last_step=step, updated_at=now)


def _use_recovery(state: MFAState, stored: str, now: datetime) -> MFAState:
    if stored not in state.recovery_code_hashes:
        raise _Refused
    left = tuple(h for h in state.recovery_code_hashes if h != stored)
    return replace(state, recovery_code_hashes=left, updated_at=now)


def pending_totp(storage: Storage, key: str, now: datetime) -> MFAState:
    """The user's state with a TOTP secret waiting for confirmation (made on first call, kept
    on reloads). Never touches a confirmed secret."""
    with contextlib.suppress(AlreadyExistsError):
        storage.create_mfa_state(MFAState(id=key, totp_secret=totp.new_secret(), updated_at=now))

    def ensure(state: MFAState) -> MFAState:
        if state.totp_confirmed or state.totp_secret:
            return state
        return replace(state, totp_secret=totp.new_secret(), updated_at=now)

    return storage.update_mfa_state(key, ensure)


def confirm_totp(storage: Storage, key: str, code: str, now: datetime) -> list[str] | None:
    """Confirm the pending secret with a code from the app: on success the secret counts from
    now on, the step is used, and fresh recovery codes replace any old ones (returned, to be
    shown once). ``None`` for a wrong code or when another request confirmed first."""
    codes = recovery.new_codes()

    def confirm(state: MFAState) -> MFAState:
        if state.totp_confirmed:
            raise _Refused
        step = totp.matching_step(state.totp_secret, code, now)
        if step is None:
            raise _Refused
        return replace(
            state,
            totp_confirmed=True,
            totp_last_step=step,
            recovery_code_hashes=tuple(recovery.digest(c) for c in codes),
            updated_at=now,
        )

    return codes if _use(storage, key, confirm) else None


def new_recovery_codes(storage: Storage, key: str, now: datetime) -> list[str]:
    """Replace the user's recovery codes with fresh ones (returned, to be shown once)."""
    codes = recovery.new_codes()
    hashes = tuple(recovery.digest(c) for c in codes)
    storage.update_mfa_state(key, lambda s: replace(s, recovery_code_hashes=hashes, updated_at=now))
    return codes


def remove_totp(storage: Storage, key: str, now: datetime) -> None:
    """Forget the TOTP secret (and the recovery codes when no other factor is left)."""

    def remove(state: MFAState) -> MFAState:
        keep_codes = state.recovery_code_hashes if state.webauthn_credentials else ()
        return replace(
            state,
            totp_secret="",
            totp_confirmed=False,
            recovery_code_hashes=keep_codes,
            updated_at=now,
        )

    with contextlib.suppress(NotFoundError):
        storage.update_mfa_state(key, remove)


def use_assertion(storage: Storage, key: str, assertion: Assertion, now: datetime) -> bool:
    """Store the signature counter of a verified assertion; False when another login moved the
    counter since it was read (the same assertion replayed, or a cloned authenticator)."""

    def count(state: MFAState) -> MFAState:
        creds = []
        for c in state.webauthn_credentials:
            if c.id == assertion.credential_id:
                if c.sign_count != assertion.old_sign_count:
                    raise _Refused
                c = replace(c, sign_count=assertion.new_sign_count)
            creds.append(c)
        return replace(state, webauthn_credentials=tuple(creds), updated_at=now)

    return _use(storage, key, count)


def add_passkey(
    storage: Storage, key: str, credential: WebAuthnCredential, now: datetime
) -> list[str] | None:
    """Register a credential (several per user; the same one twice is refused). Returns fresh
    recovery codes when the user had none (to show once), else an empty list; ``None`` when
    refused."""
    codes = recovery.new_codes()
    made: list[str] = []
    with contextlib.suppress(AlreadyExistsError):
        storage.create_mfa_state(MFAState(id=key, updated_at=now))

    def add(state: MFAState) -> MFAState:
        if any(c.id == credential.id for c in state.webauthn_credentials):
            raise _Refused
        hashes = state.recovery_code_hashes
        made[:] = []
        if not hashes:
            hashes = tuple(recovery.digest(c) for c in codes)
            made[:] = codes
        return replace(
            state,
            webauthn_credentials=(*state.webauthn_credentials, credential),
            recovery_code_hashes=hashes,
            updated_at=now,
        )

    return made if _use(storage, key, add) else None


def remove_passkey(storage: Storage, key: str, credential_id: str, now: datetime) -> None:
    """Forget one credential (and the recovery codes when no factor is left)."""

    def remove(state: MFAState) -> MFAState:
        creds = tuple(c for c in state.webauthn_credentials if c.id != credential_id)
        keep_codes = state.recovery_code_hashes if creds or state.totp_confirmed else ()
        return replace(
            state, webauthn_credentials=creds, recovery_code_hashes=keep_codes, updated_at=now
        )

    with contextlib.suppress(NotFoundError):
        storage.update_mfa_state(key, remove)
