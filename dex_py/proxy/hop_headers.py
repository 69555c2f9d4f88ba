"""Headers and paths at a proxy hop (``proxy.upstream``): the hop-by-hop headers a proxy must
not pass on (RFC 9110 §7.6.1; ``Proxy-*``, which carries the httpoxy attack as ``Proxy``), this
hop as an RFC 7239 ``Forwarded`` element, and the request paths whose dot-segments (RFC 3986
§5.2.4), plain or percent-encoded, could climb out of a route's prefix at the upstream.
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 §7.6.1 and RFC 9112 §6.1/§9.6; Proxy-* is caught by its prefix.
HOP_BY_HOP: frozenset[str] = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
)
_MAX_DECODING_ROUNDS = 3


def is_unsafe_path(raw_path: str) -> bool:
    """Whether a request path (as sent, percent-encoded, no query) must be refused: not
    absolute, or a ``.``/``..`` segment appears in it or in its percent-decoding (up to three
    rounds, for double encoding), with ``\\`` counted as ``/``; or a NUL byte is encoded."""
    if not raw_path.startswith("/"):
        return True
    if "." not in raw_path and "%" not in raw_path and "\\" not in raw_path:
        return False  # the common case, no work
    text = raw_path
    for _ in range(_MAX_DECODING_ROUNDS):
        if "\x00" in text:
            return True
        for segment in text.replace("\\", "/").split("/"):
            if segment in (".", ".."):
                return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return True  # still encoded after that many rounds: nothing honest does this


def _connection_tokens(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    """The header names a ``Connection`` header lists (RFC 9110 §7.6.1), lower-cased."""
    values = headers.getall("Connection", ())
    return frozenset(t.strip().lower() for v in values for t in v.split(",") if t.strip())


def forwarded_element(request: web.BaseRequest) -> str:
    """This hop as an RFC 7239 §4 ``Forwarded`` element (values quoted, IPv6 in brackets)."""
    remote = request.remote or "unknown"
    node = f"[{remote}]" if ":" in remote else remote
    host = request.host.replace("\\", "\\\\").replace('"', '\\"')
    return f'for="{node}";proto={request.scheme};host="{host}"'


def without(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    """``headers`` less the names in ``drop`` (lower-case), ``Proxy*`` and those ``Connection``
    names; repeats (e.g. Set-Cookie) kept in order."""
    named = _connection_tokens(headers) if "Connection" in headers else frozenset()
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in drop or lowered.startswith("proxy") or lowered in named:
            continue
        out.add(name, value)
    return out


def response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """The upstream's answer headers without the hop-by-hop ones."""
    return without(upstream, HOP_BY_HOP)
