"""The auth proxy's logs: one JSON object a line (or plain text), and a request log line with
the user, decision, rule, host, path and status.

Nothing secret is ever passed in: no cookie, token, code or query string (a query may carry a
code or state), only the path. The request line is built with one ``json.dumps`` and written
straight to the handler's stream, without the logging module's record machinery.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, separators=(",", ":"))


def _timestamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def configure(format_: str, level: str, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if format_ == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class RequestLog:
    """Writes one line per answered request when enabled."""

    def __init__(self, enabled: bool, format_: str, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.json = format_ == "json"
        self.stream = stream or sys.stderr

    def write(
        self,
        *,
        method: str,
        host: str,
        path: str,
        status: int,
        decision: str,
        rule: str,
        user: str,
        seconds: float,
    ) -> None:
        if not self.enabled:
            return
        if self.json:
            line = json.dumps(
                {
                    "time": _timestamp(time.time()),
                    "level": "info",
                    "msg": "request",
                    "method": method,
                    "host": host,
                    "path": path,
                    "status": status,
                    "decision": decision,
                    "rule": rule,
                    "user": user,
                    "ms": round(seconds * 1000, 3),
                },
                separators=(",", ":"),
            )
        else:
            line = f"{method} {host}{path} {status} {decision} rule={rule} user={user}"
        self.stream.write(line + "\n")
