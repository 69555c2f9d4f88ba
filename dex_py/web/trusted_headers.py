"""Identity headers are believed only on the paths where the authenticating proxy sets them.

The ``authproxy`` connector reads who logged in from request headers (``X-Remote-User`` ...)
that a fronting proxy sets on ``<issuer>/callback/<connector id>``, the one path it protects.
``TrustedHeaderFilter`` is WSGI middleware that deletes those headers from every other request,
so a client cannot present a forged identity header anywhere else (e.g. at ``/callback`` or
through a path the proxy passes unauthenticated). A header ``X-Remote-User`` is the WSGI environ
key ``HTTP_X_REMOTE_USER`` (PEP 3333, CGI RFC 3875 §4.1.18); note that ``X-Remote_User`` maps to
the same key, which is why the filter works on environ keys rather than header spellings.

Wiring (in ``create_app``)::

    app.wsgi_app = TrustedHeaderFilter(  # type: ignore[method-assign]
        app.wsgi_app, *trusted_header_paths(config)
    )
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from connectors.authproxy import header_names
from dex_py.config import Config

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["AUTHPROXY_TYPE", "TrustedHeaderFilter", "environ_key", "trusted_header_paths"]

log = logging.getLogger("dex_py.trusted_headers")  # the name before the move

AUTHPROXY_TYPE = "authproxy"


def environ_key(header: str) -> str:
    """The WSGI environ key of HTTP header ``header``."""
    name = header.strip().upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name


def trusted_header_paths(config: Config) -> tuple[set[str], set[str]]:
    """``(headers, paths)``: every identity header the config's ``authproxy`` connectors read,
    and their callback paths (``<issuer path>/callback/<id>``). Both empty without such
    connectors, which makes the filter a no-op."""
    issuer_path = urlsplit(config.issuer).path.rstrip("/")
    headers: set[str] = set()
    paths: set[str] = set()
    for spec in config.connectors:
        if spec.type == AUTHPROXY_TYPE:
            headers |= header_names(spec.config)
            paths.add(f"{issuer_path}/callback/{spec.id}")
    return headers, paths


class TrustedHeaderFilter:
    """WSGI middleware: remove ``headers`` from every request whose ``PATH_INFO`` is not exactly
    one of ``allowed_paths``."""

    def __init__(
        self, app: WSGIApplication, headers: Iterable[str], allowed_paths: Iterable[str]
    ) -> None:
        self.app = app
        self.environ_keys = frozenset(environ_key(h) for h in headers if h.strip())
        self.allowed_paths = frozenset(allowed_paths)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes] | Iterator[bytes]:
        if self.environ_keys and environ.get("PATH_INFO", "") not in self.allowed_paths:
            for name in self.environ_keys:
                if environ.pop(name, None) is not None:
                    log.debug("dropped untrusted header %s on %s", name, environ.get("PATH_INFO"))
        return self.app(environ, start_response)
