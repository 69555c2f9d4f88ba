"""Kubernetes: the TokenReview webhook (Kubernetes webhook token authentication), as one
blueprint under the issuer's path.

``init_kube`` registers ``POST {issuer}/kubernetes/tokenreview`` only when
``kubernetes.tokenReview`` names caller tokens (``dex_py.config.kubernetes``); otherwise the
path is not served (404). The view is ``dex_py.kube.webhook``, the checks ``dex_py.kube.review``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from dex_py.config.kubernetes import WEBHOOK_PATH, TokenReviewSettings
from dex_py.kube.webhook import Webhook


def init_kube(app: Flask, issuer_path: str, settings: TokenReviewSettings | None) -> None:
    """Register the webhook for ``settings``; nothing when it is off (``None``)."""
    if settings is None:
        return
    bp = Blueprint("kube", __name__, url_prefix=issuer_path or None)
    bp.add_url_rule(WEBHOOK_PATH, "tokenreview", Webhook(settings).view, methods=["POST"])
    app.register_blueprint(bp)
