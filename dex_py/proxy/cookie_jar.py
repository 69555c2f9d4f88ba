"""Reading and writing the auth proxy's cookies: chunking, attributes, clearing.

A sealed session can pass the 4 KB a browser keeps per cookie (RFC 6265 §6.1): it is then split
into ``NAME_0``, ``NAME_1``, ... and joined again in order; the cipher's tag covers the whole
value, so a chunk dropped, swapped or truncated does not open. At most ``MAX_CHUNKS`` are read,
and a request cookie larger than ``MAX_VALUE`` counts as absent (not logged in).

The Cookie header is parsed here, with a plain split, rather than with ``http.cookies``: it runs
on every ``/oauth2/auth`` request and must accept whatever other cookies the site sets.
"""

from __future__ import annotations

from collections.abc import Mapping

from dex_py.proxy.config import CookieSettings

CHUNK_SIZE = 3800  # value bytes per cookie, leaving room for name and attributes in 4096
MAX_CHUNKS = 12
MAX_VALUE = CHUNK_SIZE * MAX_CHUNKS


def parse_cookie_header(header: str) -> dict[str, str]:
    """Name -> value of a Cookie header (first one wins, quotes removed)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


def read_value(cookies: Mapping[str, str], name: str) -> str | None:
    """The whole value of ``name`` (single or chunked), or None when absent or oversized."""
    single = cookies.get(name)
    if single is not None:
        return single if len(single) <= MAX_VALUE else None
    parts = []
    for i in range(MAX_CHUNKS + 1):
        chunk = cookies.get(f"{name}_{i}")
        if chunk is None:
            break
        parts.append(chunk)
    if not parts or len(parts) > MAX_CHUNKS:
        return None
    value = "".join(parts)
    return value if len(value) <= MAX_VALUE else None


def present_names(cookies: Mapping[str, str], name: str) -> list[str]:
    """Every cookie of ours the browser sent under ``name`` (single and chunks)."""
    return [
        k
        for k in cookies
        if k == name or (k.startswith(name + "_") and k[len(name) + 1 :].isdigit())
    ]


def _attributes(settings: CookieSettings, max_age: int) -> str:
    attrs = [
        f"Path={settings.path}",
        f"Max-Age={max_age}",
        "HttpOnly",
        f"SameSite={settings.same_site}",
    ]
    if settings.domain:
        attrs.append(f"Domain={settings.domain}")
    if settings.secure:
        attrs.append("Secure")
    return "; ".join(attrs)


def set_cookie_headers(
    settings: CookieSettings, name: str, value: str, max_age: int, old_names: list[str]
) -> list[str]:
    """Set-Cookie header values writing ``value`` under ``name`` (chunked when long) and
    expiring the cookies in ``old_names`` that the new value does not overwrite."""
    attrs = _attributes(settings, max_age)
    if len(value) <= CHUNK_SIZE:
        written = {name: value}
    else:
        chunks = [value[i : i + CHUNK_SIZE] for i in range(0, len(value), CHUNK_SIZE)]
        written = {f"{name}_{i}": chunk for i, chunk in enumerate(chunks)}
    headers = [f"{k}={v}; {attrs}" for k, v in written.items()]
    headers += clear_cookie_headers(settings, [n for n in old_names if n not in written])
    return headers


def clear_cookie_headers(settings: CookieSettings, names: list[str]) -> list[str]:
    attrs = _attributes(settings, 0)
    return [f"{n}=; {attrs}" for n in names]
