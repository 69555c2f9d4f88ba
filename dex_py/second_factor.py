"""Whether a login needs a second factor, and what a login that passed one carries.

The ``mfa`` section (``dex_py.config.mfa``) and ``staticClients[].requireMFA`` say who must use
one; a user who enrolled a factor is always asked for it; an authorization request whose
``acr_values`` include ``ACR_MFA`` demands it (OIDC Core §3.1.2.1). ``dex_py.oauth`` asks
``SecondFactors.needed`` after the connector login and refuses to answer a request that is not
``satisfied``; ``dex_py.mfa`` asks for the factor and records it with ``passed``.

What a login used is kept in the claims it stores (``Claims.amr``, RFC 8176 values: ``pwd`` for
our password form, ``otp`` for a TOTP or recovery code, ``hwk``/``swk`` for a WebAuthn key,
``mfa`` once two factors were used) and ``Claims.acr`` (``ACR_MFA`` or ``ACR_SINGLE``); ID
tokens carry both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import replace

from dex_py.config.mfa import MFAPolicy
from dex_py.jose.tokens import encode_sub
from dex_py.storage.base import Claims, MFAState, NotFoundError, Storage

ACR_MFA = "urn:dex-py:acr:mfa"  # two factors
ACR_SINGLE = "urn:dex-py:acr:sfa"  # one factor (a password, or an upstream login)
ACR_VALUES_SUPPORTED = (ACR_SINGLE, ACR_MFA)
AMR_PASSWORD = "pwd"
AMR_OTP = "otp"
AMR_MFA = "mfa"


def demands_mfa(acr_values: str) -> bool:
    """Whether an authorization request's ``acr_values`` ask for two factors."""
    return ACR_MFA in acr_values.split()


def first_factor(claims: Claims, *, password: bool) -> Claims:
    """The claims of a fresh connector login: ``pwd`` when our password form checked a
    password; nothing we can vouch for after an upstream login."""
    return replace(claims, amr=(AMR_PASSWORD,) if password else (), acr=ACR_SINGLE)


def passed(claims: Claims, method: str) -> Claims:
    """The claims once the second factor ``method`` (an RFC 8176 value) was checked."""
    amr = tuple(dict.fromkeys((*claims.amr, method, AMR_MFA)))
    return replace(claims, amr=amr, acr=ACR_MFA)


def keep_authentication(new: Claims, old: Claims) -> Claims:
    """Claims re-read from a connector keep how the user authenticated."""
    return replace(new, amr=old.amr, acr=old.acr)


def user_key(claims: Claims, connector_id: str) -> str:
    """The key of a user's second factors: their ``sub`` (one user of one connector)."""
    return user_key_of(claims.user_id, connector_id)


def user_key_of(user_id: str, connector_id: str) -> str:
    return encode_sub(user_id, connector_id)


class SecondFactors:
    """The policy, applied to one login."""

    def __init__(
        self, storage: Storage, policy: MFAPolicy, clients_requiring: Iterable[str] = ()
    ) -> None:
        self.storage = storage
        self.policy = policy
        self.clients_requiring = frozenset(clients_requiring)

    def state(self, key: str) -> MFAState | None:
        with contextlib.suppress(NotFoundError):
            return self.storage.get_mfa_state(key)
        return None

    def required(self, client_id: str, claims: Claims, connector_id: str, acr_values: str) -> bool:
        """Whether the config or the request make a second factor mandatory (the user must
        enrol one if they have none)."""
        p = self.policy
        return (
            p.required
            or client_id in self.clients_requiring
            or connector_id in p.connectors
            or bool(set(claims.groups) & set(p.teams))
            or demands_mfa(acr_values)
        )

    def needed(self, client_id: str, claims: Claims, connector_id: str, acr_values: str) -> bool:
        """Whether this login must pass a second factor: required, or the user has one."""
        if self.required(client_id, claims, connector_id, acr_values):
            return True
        return self.usable(self.state(user_key(claims, connector_id)))

    def usable(self, state: MFAState | None) -> bool:
        """Whether the user has a factor that ``allowedMethods`` lets them use."""
        if state is None:
            return False
        p = self.policy
        return (p.allows("totp") and state.totp_confirmed) or (
            p.allows("webauthn") and bool(state.webauthn_credentials)
        )

    def satisfied(self, client_id: str, claims: Claims, connector_id: str, acr_values: str) -> bool:
        """Whether a login with these claims may get tokens for this request."""
        if AMR_MFA in claims.amr:
            return True
        return not self.needed(client_id, claims, connector_id, acr_values)
