"""``POST {issuer}/kubernetes/tokenreview``: Kubernetes webhook token authentication.

kube-apiserver (``--authentication-token-webhook-config-file``) posts a ``TokenReview``
(``authentication.k8s.io/v1`` or ``v1beta1``) whose ``spec.token`` is the bearer token a client
presented, and ``spec.audiences`` when it has audiences of its own; the answer is a
``TokenReview`` of the same ``apiVersion`` with ``status.authenticated`` and, when true,
``status.user`` (username, uid, groups, extra) and ``status.audiences``
(https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication).
How a token is judged is ``dex_py.kube.review``.

The caller authenticates with ``Authorization: Bearer <one of kubernetes.tokenReview.callerTokens>``
(the ``users[0].user.token`` of the webhook's kubeconfig), compared in constant time against
every configured token. Anyone else gets 401 before the body is read, so learns nothing about
the token under review. A body that is not a TokenReview gets 400 with a ``Status`` body (the
API's error shape). Runs on the worker's event loop (``dex_py.serving.loop_routes``): it reads
only our keys, config and at most one storage lookup per review, and logs successes only at
debug level; reviews are counted by result (``dexpy_tokenreviews_total``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from flask import request
from werkzeug import Response

from dex_py.config.kubernetes import TokenReviewSettings
from dex_py.kube.review import Reviewer
from dex_py.ops.metrics import count_event
from dex_py.services import services

log = logging.getLogger(__name__)

API_VERSIONS = ("authentication.k8s.io/v1", "authentication.k8s.io/v1beta1")
KIND = "TokenReview"
MAX_AUDIENCES = 64
UNAUTHORIZED_CALLER = "unauthorized_caller"
BAD_REQUEST = "bad_request"


def _json(body: dict[str, Any], status: int) -> Response:
    resp = Response(json.dumps(body, separators=(",", ":")), status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def status_response(code: int, reason: str, message: str) -> Response:
    """A ``Status`` object (``meta/v1``), the shape Kubernetes clients expect for errors."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return _json(body, code)


class _BadRequest(Exception):
    pass


def parse_review(data: bytes) -> tuple[str, str, list[str]]:
    """``(apiVersion, spec.token, spec.audiences)`` of a TokenReview request body."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a TokenReview object")
    api_version = body.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise _BadRequest(f"apiVersion must be one of {', '.join(API_VERSIONS)}")
    if body.get("kind") != KIND:
        raise _BadRequest("kind must be TokenReview")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise _BadRequest("spec must be an object")
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise _BadRequest("spec.token must be a non-empty string")
    audiences = spec.get("audiences") or []
    if (
        not isinstance(audiences, list)
        or len(audiences) > MAX_AUDIENCES
        or not all(isinstance(a, str) and a for a in audiences)
    ):
        raise _BadRequest(f"spec.audiences must be a list of at most {MAX_AUDIENCES} strings")
    return str(api_version), token, audiences


class Webhook:
    """The view with its settings: caller tokens (as digests) and the reviewer."""

    def __init__(self, settings: TokenReviewSettings) -> None:
        self.settings = settings
        self._callers = [hashlib.sha256(t.encode()).digest() for t in settings.caller_tokens]
        self._reviewer: Reviewer | None = None

    def caller_allowed(self, authorization: str) -> bool:
        """Whether the header carries one of the caller tokens (every one compared, in
        constant time over digests, so neither length nor position leaks)."""
        scheme, _, value = authorization.partition(" ")
        presented = hashlib.sha256(value.strip().encode("utf-8", "replace")).digest()
        found = False
        for digest in self._callers:
            found |= hmac.compare_digest(presented, digest)
        return found and scheme.lower() == "bearer" and bool(value.strip())

    def view(self) -> Response:
        if not self.caller_allowed(request.headers.get("Authorization", "")):
            count_event("dexpy_tokenreviews_total", result=UNAUTHORIZED_CALLER)
            resp = status_response(401, "Unauthorized", "Unauthorized")
            resp.headers["WWW-Authenticate"] = "Bearer"
            return resp
        try:
            api_version, token, spec_audiences = parse_review(request.get_data(cache=False))
        except _BadRequest as exc:
            count_event("dexpy_tokenreviews_total", result=BAD_REQUEST)
            return status_response(400, "BadRequest", f"not a TokenReview: {exc}")
        svc = services()
        if self._reviewer is None:
            self._reviewer = Reviewer(svc, self.settings)
        review = self._reviewer.review(svc, token, spec_audiences)
        count_event("dexpy_tokenreviews_total", result=review.result)
        status: dict[str, Any] = {"authenticated": review.authenticated}
        if review.authenticated:
            status["user"] = review.user
            status["audiences"] = review.audiences
        else:
            status["error"] = review.error
            log.debug("token review refused: %s", review.error)
        return _json({"apiVersion": api_version, "kind": KIND, "status": status}, 200)
