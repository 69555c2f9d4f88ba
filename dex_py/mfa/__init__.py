"""Multi-factor authentication (issue 13): the second-factor step of the login, TOTP, WebAuthn
passkeys and recovery codes, as one blueprint under the issuer's path. Who needs a second factor is
decided by ``dex_py.second_factor`` (layer 5), which ``dex_py.oauth`` asks too; the state lives
in storage (``MFAState``).

URL map: ``/mfa`` (a code or a passkey), ``/mfa/enroll`` (TOTP or passkey set-up during a
login), ``/mfa/manage``
(the self-service page).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from dex_py.mfa import manage, views


def init_mfa(app: Flask, issuer_path: str) -> Blueprint:
    bp = Blueprint("mfa", __name__, url_prefix=issuer_path or None)
    bp.add_url_rule("/mfa", "verify", views.verify_view, methods=["GET", "POST"])
    bp.add_url_rule("/mfa/enroll", "enroll", views.enroll_view, methods=["GET", "POST"])
    bp.add_url_rule("/mfa/manage", "manage", manage.manage_view, methods=["GET", "POST"])
    app.register_blueprint(bp)
    return bp
