"""Answers a worker may repeat for a second without running the app again (discovery, JWKS).

A view calls ``allow_server_cache()`` on a successful answer that depends on nothing but the
path, the scheme (HSTS) and the ``Origin`` header (CORS): the serving layer
(``dex_py.serving.response_cache``) then keeps the finished response, headers included, and
answers the same ``GET`` from it for up to ``seconds``. Flask and werkzeug cost more than the
rest of such a request, and relying parties and API servers fetch these two documents often.
A rotated signing key therefore reaches a worker's cached JWKS at most that long after it
would have otherwise; ``Cache-Control`` already lets clients keep both for longer.
"""

from __future__ import annotations

from flask import request

ENVIRON_KEY = "dex_py.server_cache"  # (seconds, endpoint name for the metrics)
MAX_SECONDS = 1.0


def allow_server_cache(seconds: float = MAX_SECONDS) -> None:
    """Let the server repeat this request's answer for ``seconds`` (at most ``MAX_SECONDS``)."""
    request.environ[ENVIRON_KEY] = (min(seconds, MAX_SECONDS), request.endpoint or "")
