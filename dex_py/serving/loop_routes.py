"""Which requests a Granian worker runs on its event loop thread, and which on its thread pool.

Handing a request from the event loop to a Python thread and its answer back costs more than Flask
itself on a small request (a wake-up of the pool, a wake-up of the loop through its self-pipe, and
the GIL passed back and forth): measured on 2 cores, the JWKS went from about 2,400 to 4,500
requests a second, client_credentials from 650-1,000 to 1,300-1,500, when the app ran on the loop
thread. A request run there holds the worker's loop until it returns, so only requests that never
wait on anything but our own storage go there: discovery, the JWKS, the health checks,
``/userinfo``, introspection, revocation, the TokenReview webhook, and the token endpoint's code,
refresh and client_credentials grants. Everything that may call an upstream (login pages,
callbacks, the password grant's LDAP bind or bcrypt check, token exchange) runs on the pool, so one
slow directory cannot stall the worker. Connections and request bodies are held by Granian and the
loop in any case (``dex_py.serving.wsgi_bridge``); this only decides where the app runs.

A refresh whose connector re-reads the user upstream (``offline_access`` with LDAP or an
upstream OIDC provider) runs on the loop too: its cost is that connector's round trip.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

# Paths under the issuer's path whose handlers only read our keys, config and storage.
_LOOP_PATHS = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/keys",
    "/userinfo",
    "/token/introspect",
    "/token/revoke",
    "/kubernetes/tokenreview",
    "/healthz",
    "/healthz/live",
    "/healthz/ready",
)
_TOKEN_PATH = "/token"
# Token grants that never call a connector's login (RFC 6749 §4.1.3, §6, §4.4).
_LOOP_GRANTS = frozenset({"authorization_code", "refresh_token", "client_credentials"})


class LoopRoutes:
    """``runs_on_loop(method, path, body)``: True for a request the worker may run inline."""

    def __init__(self, issuer_path: str) -> None:
        prefix = issuer_path.rstrip("/")
        self.paths = frozenset(prefix + path for path in _LOOP_PATHS)
        self.token_path = prefix + _TOKEN_PATH

    def runs_on_loop(self, method: str, path: str, body: bytes) -> bool:
        if path == self.token_path:
            return method == "POST" and grant_type(body) in _LOOP_GRANTS
        return path in self.paths


def grant_type(body: bytes) -> str:
    """The ``grant_type`` of a form-encoded token request, or "" (only for scheduling: the
    token endpoint parses and checks the request itself)."""
    if len(body) > 16 * 1024:
        return ""
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return ""
    values = [value for name, value in fields if name == "grant_type"]
    return values[0] if len(values) == 1 else ""
