"""The storage's records: frozen dataclasses of every entity, the storage errors, and the keys
under which revocations of a whole grant or login session are recorded. ``storage.base`` holds
the ``Storage`` protocol over them and re-exports them.

All datetimes are timezone-aware UTC; backends must return them aware, whatever the database
stores. Secrets are never stored in the clear: refresh tokens and client secrets are kept as
SHA-256 hex digests (and a refresh chain's current secret, also, sealed under its previous one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class StorageError(Exception):
    """Base class of storage failures."""


class NotFoundError(StorageError):
    """The entity does not exist."""


class AlreadyExistsError(StorageError):
    """An entity with that key exists already."""


class ReadOnlyError(StorageError):
    """The entity is defined in the config file and cannot be changed through storage."""


class ConflictError(StorageError):
    """The record changed since the caller read it (a stale version: optimistic concurrency)."""


@dataclass(frozen=True)
class Claims:
    """The identity a connector vouched for (Dex ``storage.Claims``)."""

    user_id: str
    username: str
    preferred_username: str = ""
    email: str = ""
    email_verified: bool = False
    groups: tuple[str, ...] = ()
    # How the user authenticated in this login (RFC 8176 ``amr`` values: pwd, otp, hwk, swk,
    # mfa; empty for a login before dex-py recorded them) and the resulting ``acr``.
    amr: tuple[str, ...] = ()
    acr: str = ""


@dataclass(frozen=True)
class PKCE:
    """RFC 7636 challenge carried from the authorization request to the code."""

    code_challenge: str = ""
    code_challenge_method: str = ""


@dataclass(frozen=True)
class AuthRequest:
    """An authorization request in progress: created at ``/auth``, finished at ``/approval``."""

    id: str
    client_id: str
    response_types: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uri: str
    state: str
    nonce: str
    expiry: datetime
    force_approval_prompt: bool = False
    logged_in: bool = False
    claims: Claims | None = None
    connector_id: str = ""
    connector_data: bytes | None = None
    pkce: PKCE = PKCE()
    # SHA-256 of the per-browser secret cookie set at /auth: every later step must present it.
    browser_binding: str = ""
    response_mode: str = ""
    prompt: str = ""
    max_age: int | None = None
    login_hint: str = ""
    auth_time: datetime | None = None
    session_id: str = ""  # the SSO session this login belongs to (``sid``)
    acr_values: str = ""  # OIDC Core §3.1.2.1 ``acr_values`` as requested (space separated)


@dataclass(frozen=True)
class AuthCode:
    """An authorization code: single use, short lived. ``used_at`` marks redemption so a replay
    can be detected and what the first redemption issued can be revoked."""

    id: str
    client_id: str
    redirect_uri: str
    nonce: str
    scopes: tuple[str, ...]
    claims: Claims
    connector_id: str
    expiry: datetime
    connector_data: bytes | None = None
    pkce: PKCE = PKCE()
    auth_time: datetime | None = None
    used_at: datetime | None = None
    issued_refresh_token_id: str = ""
    issued_access_token_id: str = ""
    issued_access_token_expiry: datetime | None = None
    session_id: str = ""


@dataclass(frozen=True)
class RefreshToken:
    """One refresh token chain: one per login (Dex keeps only one per user and client).

    The client holds ``id`` plus a secret; only ``token_hash`` (SHA-256 hex) is stored. On
    rotation the previous digest moves to ``obsolete_token_hash`` and the new secret is kept
    sealed (AES-GCM) under a key derived from the previous secret (``successor_sealed``): a
    retry presenting the previous secret within ``reuseInterval`` can recover the same current
    secret, and nobody else can, not even with the database. ``retired_token_hashes`` keeps
    the digests of the last rotated-out secrets, so presenting one of them is recognised as
    reuse (RFC 9700 §4.14.2) and revokes the chain; a secret that never belonged to the chain
    is merely invalid.
    """

    id: str
    token_hash: str
    client_id: str
    scopes: tuple[str, ...]
    claims: Claims
    connector_id: str
    created_at: datetime
    last_used: datetime
    nonce: str = ""
    obsolete_token_hash: str = ""
    connector_data: bytes | None = None
    auth_time: datetime | None = None
    session_id: str = ""
    # When the chain stops being valid: min(created + absoluteLifetime, last_used +
    # validIfNotUsedFor), recomputed on every use; None = never. Garbage collection uses it.
    expiry: datetime | None = None
    successor_sealed: str = ""  # the current secret, sealed under the previous one
    retired_token_hashes: tuple[str, ...] = ()  # most recent first, bounded


@dataclass(frozen=True)
class Password:
    """A user of the built-in password database (``dex-py passwords``)."""

    email: str  # stored lower-cased; the key
    hash: bytes  # bcrypt
    username: str
    user_id: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    """An OAuth2 client. Config-defined clients are a read-only overlay (``storage.static``)."""

    id: str
    secret_hash: str  # SHA-256 hex digest of the secret; "" for public clients
    redirect_uris: tuple[str, ...] = ()
    trusted_peers: tuple[str, ...] = ()
    public: bool = False
    name: str = ""
    logo_url: str = ""
    allowed_connectors: tuple[str, ...] = ()  # empty: every connector
    allowed_groups: tuple[str, ...] = ()  # empty: no group requirement
    grant_types: tuple[str, ...] = ()  # empty: every grant the server enables
    post_logout_redirect_uris: tuple[str, ...] = ()
    # client_secret_basic | client_secret_post | private_key_jwt | none; "" = basic or post
    token_endpoint_auth_method: str = ""
    jwks: str = ""  # JSON JWK Set for private_key_jwt
    jwks_uri: str = ""  # or where to fetch it
    backchannel_logout_uri: str = ""  # OIDC Back-Channel Logout 1.0
    # dex-py: approval page skipped for this client (public clients need it, RFC 8252 §8.6)
    skip_approval: bool = False
    # Secret rotation: the digest of the secret replaced last, still accepted until its expiry
    # (a grace period for the client's deployments to pick up the new one); "" and None: none.
    previous_secret_hash: str = ""
    previous_secret_expiry: datetime | None = None


@dataclass(frozen=True)
class Connector:
    """A configured connector (Dex stores these too, so they can be managed at run time)."""

    id: str
    type: str
    name: str
    config: dict = field(default_factory=dict)
    resource_version: str = ""


@dataclass(frozen=True)
class VerificationKey:
    """A retired public key, published in /keys until ``expiry``."""

    jwk: str  # public JWK as JSON text (with kid and alg)
    expiry: datetime


@dataclass(frozen=True)
class Keys:
    """The signing key set: one private key in use plus retired public keys."""

    signing_key: str  # private JWK as JSON text (with kid and alg); "" before the first rotation
    signing_key_pub: str  # its public JWK as JSON text
    verification_keys: tuple[VerificationKey, ...]
    next_rotation: datetime


@dataclass(frozen=True)
class Approval:
    """The scopes a user approved for one client in one session (OIDC Core §11, §3.1.2.4)."""

    client_id: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """A browser's single sign-on session (OIDC Core §3.1.2.1 ``prompt``/``max_age``, OIDC
    Session Management ``sid``). The browser holds ``<id>.<secret>`` in an HttpOnly cookie;
    only SHA-256 of the secret is stored, so a database leak yields no usable cookie."""

    id: str  # also the ``sid`` claim
    secret_hash: str
    claims: Claims
    connector_id: str
    auth_time: datetime  # when the user last actually authenticated
    created_at: datetime
    last_active: datetime
    # min(created_at + absolute lifetime, last_active + idle timeout), recomputed on each use
    expiry: datetime
    connector_data: bytes | None = None
    clients: tuple[str, ...] = ()  # clients that received tokens in this session (logout)
    # client ids that the user approved in this session; kept up to date for the previous
    # release (rolling upgrades), read by nothing now: ``approvals`` holds the scopes
    approved_clients: tuple[str, ...] = ()
    # the scopes the user approved, per client (a request for any other scope asks again)
    approvals: tuple[Approval, ...] = ()
    # the connector scopes (``groups``, ``offline_access``) the identity was fetched with
    connector_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebAuthnCredential:
    """One registered WebAuthn authenticator (passkey or security key) of a user."""

    id: str  # the credential id, base64url
    public_key: bytes  # COSE public key
    sign_count: int = 0  # the authenticator's signature counter, last seen
    name: str = ""  # the label the user gave it
    created_at: datetime | None = None


@dataclass(frozen=True)
class MFAState:
    """A user's second factors, keyed by the user's ``sub`` (user id and connector id).

    ``totp_secret`` is the RFC 6238 shared secret (base32) as the authenticator app has it:
    the server must be able to compute codes, so it cannot be hashed; it counts only once
    ``totp_confirmed`` (the user typed a valid code at enrolment). ``totp_last_step`` is the
    time step of the last accepted code: a code of that step or an earlier one is refused, so
    each code works once. Recovery codes are kept as SHA-256 hex digests and removed when used.
    """

    id: str
    totp_secret: str = ""
    totp_confirmed: bool = False
    totp_last_step: int = 0
    webauthn_credentials: tuple[WebAuthnCredential, ...] = ()
    recovery_code_hashes: tuple[str, ...] = ()
    updated_at: datetime | None = None

    @property
    def enrolled(self) -> bool:
        """Whether the user has any factor that counts (confirmed TOTP or a passkey)."""
        return self.totp_confirmed or bool(self.webauthn_credentials)


@dataclass(frozen=True)
class LogoutEvent:
    """One back-channel logout delivery (OIDC Back-Channel Logout 1.0): its retry state and,
    once finished, the audit record of what was sent where."""

    id: str
    client_id: str
    uri: str
    sid: str
    sub: str
    created_at: datetime
    status: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    next_attempt: datetime | None = None  # None once delivered or given up
    last_error: str = ""


@dataclass(frozen=True)
class DeviceRequest:
    """One device authorization (RFC 8628 §3.1-§3.5): created at ``/device/code``, approved in a
    browser through ``/device``, redeemed once at ``/token``. ``id`` is the SHA-256 hex digest of
    the device code (the code itself is never stored); ``user_code`` is its 8 letters without the
    dash, unique while the request lives. ``status``: pending, approved (the identity below is
    filled in), denied, or spent (tokens issued). ``state_hash`` is the SHA-256 of the ``state``
    of the browser round trip started from the user-code page."""

    id: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expiry: datetime
    interval: int = 5
    last_poll: datetime | None = None
    status: str = "pending"
    state_hash: str = ""
    claims: Claims | None = None
    connector_id: str = ""
    connector_data: bytes | None = None
    auth_time: datetime | None = None
    session_id: str = ""
    nonce: str = ""  # always empty: no nonce in the device flow (``issuance`` reads it)


@dataclass(frozen=True)
class GCResult:
    """How many expired objects garbage collection removed, per kind."""

    auth_requests: int = 0
    auth_codes: int = 0
    refresh_tokens: int = 0
    revoked_tokens: int = 0
    sessions: int = 0
    device_requests: int = 0
    attempt_counters: int = 0

    @property
    def total(self) -> int:
        return (
            self.auth_requests
            + self.auth_codes
            + self.refresh_tokens
            + self.revoked_tokens
            + self.sessions
            + self.device_requests
            + self.attempt_counters
        )


# The settings (``Storage.get_setting``) dex-py keeps: the team rules added at run time (a JSON
# list shaped like the ``teams.rules`` entries of the config file). ``migrate-storage`` copies
# the ones listed in ``SETTING_KEYS``.
TEAM_RULES_SETTING = "team-rules"
SETTING_KEYS = (TEAM_RULES_SETTING,)

GRANT_PREFIX = "grant:"


def grant_marker(grant_id: str) -> str:
    """The key under which revoking a whole grant (every access token carrying ``grant_id``)
    is recorded among the revoked access tokens."""
    return GRANT_PREFIX + grant_id


SESSION_PREFIX = "session:"


def session_marker(sid: str) -> str:
    """The key under which ending a login session (logout) is recorded among the revoked
    access tokens, so the tokens carrying its ``sid`` can be refused (the TokenReview webhook)."""
    return SESSION_PREFIX + sid


@dataclass(frozen=True)
class AuditRecord:
    """One security event or admin change kept in storage (the audit log of issue 12): what
    happened (``event``, ``outcome``), who did it (``actor``: a user id, an admin, ``cli:<os
    user>``) to what (``object``), through which client and connector, from which address, and
    event details as a JSON object. Never a secret. Removed after ``audit.retention``."""

    id: str
    time: datetime
    event: str
    outcome: str
    actor: str = ""
    object: str = ""
    client: str = ""
    connector: str = ""
    ip: str = ""
    details: str = "{}"  # a JSON object
