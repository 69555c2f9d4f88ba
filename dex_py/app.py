"""``create_app``: the one place that wires dex-py together (DESIGN §1).

Read it as a checklist: config, clock, storage, keys, clients, connectors, pages, endpoints,
headers, metrics, errors.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask

from dex_py.admin import init_admin
from dex_py.admin.login import console_client
from dex_py.admin_api import init_admin_api
from dex_py.clients import ClientStore, client_from_config
from dex_py.clock import Clock
from dex_py.config import Config
from dex_py.config.admin import SECTION as ADMIN
from dex_py.config.admin import AdminPolicy
from dex_py.config.audit_log import SECTION as AUDIT
from dex_py.config.audit_log import AuditPolicy
from dex_py.config.brute_force import SECTION as BRUTE_FORCE
from dex_py.config.brute_force import BruteForcePolicy
from dex_py.config.kubernetes import parse_token_review
from dex_py.config.mfa import SECTION as MFA
from dex_py.config.mfa import MFAPolicy
from dex_py.config.session import SessionPolicy
from dex_py.connector_manager import ConnectorManager
from dex_py.error_handlers import register_error_handlers
from dex_py.jose.client_assertions import ClientAssertionVerifier
from dex_py.jose.keys import KeyManager
from dex_py.kube import init_kube
from dex_py.login_guard import ClientGuard, LoginGuard, SecondFactorGuard, attempt_counter
from dex_py.mfa import init_mfa
from dex_py.oauth import CORS_ENDPOINTS, init_oauth
from dex_py.ops.metrics import init_metrics
from dex_py.passwords import PasswordService
from dex_py.second_factor import SecondFactors
from dex_py.services import Services
from dex_py.storage import StaticOverlay, open_storage
from dex_py.storage.base import Connector as StoredConnector
from dex_py.storage.base import Storage
from dex_py.teams import live_team_rules
from dex_py.web.headers import init_headers
from dex_py.web.pages import init_web
from dex_py.web.trusted_headers import TrustedHeaderFilter, trusted_header_paths

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024


def create_app(
    config: Config, *, clock: Clock | None = None, storage: Storage | None = None
) -> Flask:
    """Build the WSGI application for ``config``."""
    app = Flask("dex_py", static_folder=None, template_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES
    app.config["JSON_SORT_KEYS"] = False

    issuer = config.issuer.rstrip("/")
    issuer_path = urlsplit(issuer).path.rstrip("/")
    clock = clock or Clock()
    if storage is None:
        storage = open_storage(config.storage)
    admin_policy = AdminPolicy.from_config(config.extensions.get(ADMIN))
    # the console's own client, when someone may use the console
    builtin = [console_client(issuer)] if admin_policy.teams or admin_policy.emails else []
    storage = StaticOverlay(
        storage,
        clients=[*builtin, *(client_from_config(c) for c in config.static_clients)],
        connectors=[
            StoredConnector(id=c.id, type=c.type, name=c.name, config=c.config)
            for c in config.connectors
        ],
    )
    keys = KeyManager(
        storage,
        clock,
        algorithm=config.signing.algorithm,
        rotation_period=config.expiry.signing_keys,
        id_token_lifetime=config.expiry.token_lifetime,
    )
    keys.ensure()
    passwords = PasswordService(storage, config.static_passwords)
    brute_force = BruteForcePolicy.from_config(config.extensions.get(BRUTE_FORCE))
    attempts = attempt_counter(storage, brute_force)
    svc = Services(
        config=config,
        storage=storage,
        clock=clock,
        keys=keys,
        clients=ClientStore(
            storage, ClientAssertionVerifier(storage, clock, (issuer, issuer + "/token")), clock
        ),
        connectors=ConnectorManager(
            config,
            {"password_lookup": passwords.lookup, "password_cost": passwords.typical_cost},
            storage,
        ),
        issuer=issuer,
        issuer_path=issuer_path,
        secure_cookies=issuer.startswith("https://"),
        session_policy=SessionPolicy.from_config(config.extensions.get("session")),
        teams=live_team_rules(config, storage),
        login_guard=LoginGuard(attempts, clock, brute_force),
        client_guard=ClientGuard(attempts, clock, brute_force),
        second_factors=SecondFactors(
            storage,
            MFAPolicy.from_config(config.extensions.get(MFA)),
            (c.id for c in config.static_clients if c.require_mfa),
        ),
        mfa_guard=SecondFactorGuard(attempts, clock, brute_force),
        audit_policy=AuditPolicy.from_config(config.extensions.get(AUDIT)),
        admin_policy=admin_policy,
    )
    app.extensions["dex_py"] = svc

    init_web(app, config.frontend, issuer_path)
    init_oauth(app, issuer_path)
    init_kube(app, issuer_path, parse_token_review(config))
    init_mfa(app, issuer_path)
    init_admin(app, issuer_path)
    init_admin_api(app, issuer_path)
    init_headers(app, config.web, cors_endpoints={f"oauth.{e}" for e in CORS_ENDPOINTS})
    init_metrics(app, config.telemetry, issuer_path)
    register_error_handlers(app)
    # Identity headers of a fronting auth proxy count only on that connector's callback path.
    app.wsgi_app = TrustedHeaderFilter(  # type: ignore[method-assign]
        app.wsgi_app, *trusted_header_paths(config)
    )
    return app
