"""One upstream of the auth proxy's upstream mode (oauth2-proxy's ``--upstream``): the path
prefix it serves, where requests go, and how long to wait.

The contract between the proxy's config (``proxy.config``) and the relay
(``proxy.upstream``): the config builds these, the relay forwards to them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UpstreamRoute:
    """Requests whose path starts with ``path_prefix`` go to ``url`` (``http://host:port`` with
    an optional base path that replaces nothing: the request path is appended as it is)."""

    path_prefix: str
    url: str
    connect_timeout: float = 5.0  # seconds to open a connection; past it: 502
    read_timeout: float = 60.0  # seconds without a byte from the upstream; past it: 504
    pass_host_header: bool = True  # send the client's Host (oauth2-proxy's default)


def longest_prefix(routes: tuple[UpstreamRoute, ...], path: str) -> UpstreamRoute | None:
    """The route with the longest prefix that ``path`` starts with (``/`` matches all)."""
    best: UpstreamRoute | None = None
    for route in routes:
        if path.startswith(route.path_prefix) and (
            best is None or len(route.path_prefix) > len(best.path_prefix)
        ):
            best = route
    return best
