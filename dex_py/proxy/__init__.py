"""The auth proxy (``dex-py proxy PROXY_CONFIG``): protects in-cluster apps with logins at an
OpenID provider (dex-py or any other) and rules on the user's teams, groups and emails.

Its own process on an asynchronous server (aiohttp), in two modes: forward auth for a front
proxy (nginx ``auth_request``, Caddy ``forward_auth``, Traefik, Envoy) at oauth2-proxy's paths,
and an upstream (reverse) proxy. It is a relying party: it imports nothing of the issuer's
internals (``tests/architecture``), only dex_py's foundation modules.
"""
