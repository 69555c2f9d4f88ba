"""The services every blueprint shares, wired once by ``create_app`` (DESIGN §1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from dex_py.clock import Clock
from dex_py.config import Config
from dex_py.config.admin import AdminPolicy
from dex_py.config.audit_log import AuditPolicy
from dex_py.login_guard import ClientGuard, LoginGuard, SecondFactorGuard
from dex_py.second_factor import SecondFactors
from dex_py.storage.base import Storage

if TYPE_CHECKING:
    from dex_py.clients import ClientStore
    from dex_py.config.session import SessionPolicy
    from dex_py.connector_manager import ConnectorManager
    from dex_py.jose.keys import KeyManager
    from dex_py.teams import LiveTeamRules, TeamRules


@dataclass
class Services:
    config: Config
    storage: Storage
    clock: Clock
    keys: KeyManager
    clients: ClientStore
    connectors: ConnectorManager
    issuer: str  # the issuer URL exactly as configured (no trailing slash)
    issuer_path: str  # its path part, "" or "/dex"
    secure_cookies: bool  # issuer is https
    session_policy: SessionPolicy
    # upstream groups -> team names, one engine for every grant (config + stored rules)
    teams: LiveTeamRules | TeamRules
    login_guard: LoginGuard  # failed password logins counted and limited (bruteForce)
    client_guard: ClientGuard  # failed client authentication at /token, the same way
    second_factors: SecondFactors  # who needs a second factor (the mfa section)
    mfa_guard: SecondFactorGuard  # wrong second-factor codes counted and limited
    # the audit log in storage (the audit section)
    audit_policy: AuditPolicy = field(default_factory=AuditPolicy)
    # who may use the admin console and API (the admin section)
    admin_policy: AdminPolicy = field(default_factory=AdminPolicy)
    # per-process memo of derived documents (the discovery JSON, ...)
    memo: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """Absolute URL of an endpoint under the issuer."""
        return self.issuer + path


def services() -> Services:
    """The current app's services."""
    svc: Services = current_app.extensions["dex_py"]
    return svc
