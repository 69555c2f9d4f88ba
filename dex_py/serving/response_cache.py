"""The worker's short-lived cache of answers the app marked with ``allow_server_cache``
(``dex_py.web.server_cache``): discovery and the JWKS.

Only a ``GET`` without a query string is looked up or stored. The key is the path, the scheme
and the ``Origin`` header: everything those answers depend on (CORS and HSTS headers included).
An entry lives for the seconds the view allowed (at most one); the cache holds at most
``MAX_ENTRIES`` (``Origin`` is the client's to choose), and is emptied when full. A hit is
counted in the request metrics like an answer of the app (``observe``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dex_py.web.server_cache import ENVIRON_KEY

MAX_ENTRIES = 64
Answer = tuple[int, list[tuple[str, str]], bytes]
Key = tuple[str, str, str | None]


class ResponseCache:
    """``lookup(environ)`` before running the app, ``store(environ, key, answer)`` after."""

    def __init__(self, observe: Callable[[str, str, int, float, int], None] | None = None) -> None:
        # (endpoint, method, status, seconds, response size) into the request metrics
        self.observe = observe
        self.entries: dict[Key, tuple[float, str, Answer]] = {}

    @staticmethod
    def key_of(environ: dict[str, Any]) -> Key | None:
        if environ["REQUEST_METHOD"] != "GET" or environ["QUERY_STRING"]:
            return None
        return environ["PATH_INFO"], environ["wsgi.url_scheme"], environ.get("HTTP_ORIGIN")

    def lookup(self, key: Key) -> Answer | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        expires, endpoint, answer = entry
        if now >= expires:
            self.entries.pop(key, None)
            return None
        if self.observe is not None:
            self.observe(endpoint, "GET", answer[0], time.monotonic() - now, len(answer[2]))
        return answer

    def store(self, environ: dict[str, Any], key: Key, answer: Answer) -> None:
        allowed = environ.get(ENVIRON_KEY)
        if allowed is None or answer[0] != 200:
            return
        seconds, endpoint = allowed
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + seconds, endpoint, answer)
