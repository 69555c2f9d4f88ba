"""Where ``/oauth2/start?rd=`` and ``/oauth2/sign_out?rd=`` may send the browser afterwards: a
path on the proxy's own host, or a URL on a host in ``redirects.allowedDomains``. Anything else
becomes ``/`` (no open redirect, OWASP "Unvalidated Redirects and Forwards").

Refused: control characters and whitespace (CR/LF header splitting), backslashes (browsers read
``/\\evil`` as ``//evil``), scheme-relative ``//evil``, schemes other than http(s), userinfo
(``https://good.com@evil``) and hosts outside the list.

``allowedDomains`` entries: ``app.example.com`` (that host, default port), ``.example.com`` (the
domain and its subdomains), ``host:8443`` (that port), ``host:*`` (any port).
"""

from __future__ import annotations

from urllib.parse import urlsplit

SAFE_DEFAULT = "/"


def _port_allowed(want: str, port: int | None) -> bool:
    if want == "*":
        return True
    if want == "":
        return port is None
    return port is not None and str(port) == want


def host_allowed(host: str, port: int | None, allowed_domains: tuple[str, ...]) -> bool:
    for entry in allowed_domains:
        name, _, want_port = entry.lower().partition(":")
        if not _port_allowed(want_port, port):
            continue
        if name.startswith("."):
            if host == name[1:] or host.endswith(name):
                return True
        elif host == name:
            return True
    return False


def safe_redirect(rd: str, own_host: str, allowed_domains: tuple[str, ...]) -> str:
    """``rd`` when it is safe to redirect to, else ``/``. ``own_host`` is the request's Host."""
    if not rd or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in rd) or "\\" in rd:
        return SAFE_DEFAULT
    if rd.startswith("/"):
        return SAFE_DEFAULT if rd.startswith("//") else rd
    try:
        parts = urlsplit(rd)
        port = parts.port
    except ValueError:
        return SAFE_DEFAULT
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return SAFE_DEFAULT
    if "@" in parts.netloc:
        return SAFE_DEFAULT
    if parts.netloc.lower() == own_host.lower():
        return rd
    if host_allowed(parts.hostname.lower(), port, allowed_domains):
        return rd
    return SAFE_DEFAULT
