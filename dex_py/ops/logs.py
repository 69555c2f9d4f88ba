"""Logging setup: text or JSON-lines output, secret redaction, and gunicorn's loggers routed
through the same handler.

``setup_logging(cfg)`` installs one stderr handler on the root logger, formatted as text
(``time level logger message key=value ...``) or as one JSON object per line
(``{"time", "level", "logger", "msg", ...extra fields}``). Every record passes through
``RedactFilter``: fields passed via ``extra=`` whose names look secret (password, client_secret,
code, refresh_token, Authorization, ...) are replaced, recursively in dicts, and secret query
parameters in URLs inside the message or extra fields are masked. ``GunicornLogger`` is a
gunicorn ``logger_class`` that drops gunicorn's own handlers so its error and access records
reach the root handler too, with the same format and redaction.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

from dex_py.config import LoggerConfig

REDACTED = "[REDACTED]"

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

QUIET_LIBRARIES = ("alembic",)

# Names (case-insensitive, "-" treated as "_") whose values must never reach a log.
SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "client_secret",
        "code",
        "device_code",
        "user_code",
        "refresh_token",
        "access_token",
        "id_token",
        "token",
        "id_token_hint",
        "code_verifier",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "assertion",
        "client_assertion",
    }
)

# A key=value pair in a query string (or form body) whose key is a secret name.
_QUERY_SECRET = re.compile(
    r"(?P<key>(?<![\w-])(?:"
    + "|".join(sorted((re.escape(n).replace("_", "[_-]") for n in SECRET_NAMES), key=len)[::-1])
    + r"))=(?P<value>[^&\s\"'#]*)",
    re.IGNORECASE,
)

# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def is_secret_name(name: str) -> bool:
    """True if a field called ``name`` holds a secret (``client_secret``, ``Authorization``)."""
    key = name.lower().replace("-", "_")
    return key in SECRET_NAMES or key.endswith(("_secret", "_password", "_token"))


def redact_text(text: str) -> str:
    """Mask the values of secret query parameters (``code=abc`` -> ``code=[REDACTED]``)."""
    if "=" not in text:
        return text
    return _QUERY_SECRET.sub(lambda m: f"{m.group('key')}={REDACTED}", text)


def redact_value(value: Any) -> Any:
    """Redact secrets inside a logged value: dict keys by name, URLs in strings, recursively."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller attached with ``extra=``."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and k[0] != "_"}


class ExcludeFieldsFilter(logging.Filter):
    """Drops the extra fields named in ``logger.excludeFields`` (Dex's key: e.g. ``email`` or
    ``ip`` where privacy rules forbid logging them) from every record."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__()
        self.names = frozenset(names)

    def filter(self, record: logging.LogRecord) -> bool:
        for name in self.names & record.__dict__.keys():
            if name not in _STANDARD_ATTRS:
                delattr(record, name)
        return True


class RedactFilter(logging.Filter):
    """Masks secrets in a record's message, arguments and extra fields (never drops records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in extra_fields(record).items():
            setattr(record, key, REDACTED if is_secret_name(key) else redact_value(value))
        if record.args or "=" in str(record.msg):
            message = record.getMessage()
            redacted = redact_text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _level_name(record: logging.LogRecord) -> str:
    return record.levelname.lower().replace("warning", "warn")


class TextFormatter(logging.Formatter):
    """``2026-01-01T12:00:00.000+00:00 info dex_py.x message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        message = _one_line(record.getMessage())
        line = f"{_timestamp(record)} {_level_name(record)} {record.name} {message}"
        fields = extra_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def _one_line(message: str) -> str:
    """The message with control characters escaped (``\\n``, ``\\x1b``): a value
    formatted into it cannot break the line (tracebacks are appended after it)."""
    return message.translate(_CONTROL)


def _text_value(value: Any) -> str:
    """A field value as one token: quoted and escaped (JSON string syntax) when it is empty or
    holds a space, a quote, a line break or any other character that is not printable, so a
    value from a request (a typed user name) cannot start a forged log line."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    plain = text and all(c.isprintable() and not c.isspace() and c != '"' for c in text)
    return text if plain else json.dumps(text)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``msg`` and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": _level_name(record),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def make_handler(cfg: LoggerConfig, stream: Any = None) -> logging.Handler:
    """A stream handler with the configured format and the redaction filter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    fmt = (cfg.format or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"logger.format: unknown format {cfg.format!r} (text | json)")
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    if cfg.exclude_fields:
        handler.addFilter(ExcludeFieldsFilter(cfg.exclude_fields))
    handler.addFilter(RedactFilter())
    handler._dex_py = True  # type: ignore[attr-defined]
    return handler


def parse_level(level: str) -> int:
    try:
        return LEVELS[(level or "info").lower()]
    except KeyError:
        raise ValueError(
            f"logger.level: unknown level {level!r} (debug | info | warn | error)"
        ) from None


def setup_logging(cfg: LoggerConfig, *, stream: Any = None) -> None:
    """Configure the root logger from ``logger {level, format}``; safe to call again."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_dex_py", False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(cfg, stream))
    level = parse_level(cfg.level)
    root.setLevel(level)
    # Chatty libraries: their info lines ("Context impl SQLiteImpl.") only help when debugging.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(
            logging.NOTSET if level <= logging.DEBUG else logging.WARNING
        )
    for name in ("gunicorn.error", "gunicorn.access"):
        gunicorn_logger = logging.getLogger(name)
        gunicorn_logger.handlers.clear()
        gunicorn_logger.propagate = True


class GunicornLogger(glogging.Logger):
    """gunicorn ``logger_class``: no handlers of its own; records propagate to the root handler
    set up by ``setup_logging``. Access records are structured (method, path, status, ...), with
    secret query parameters masked, and only emitted when gunicorn's ``accesslog`` is set."""

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        self._access_log_enabled = bool(cfg.accesslog)
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(logging.INFO)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self._access_log_enabled:
            return
        path = req.path + (f"?{req.query}" if req.query else "")
        self.access_log.info(
            "%s %s %s",
            req.method,
            path,
            resp.status_code,
            extra={
                "remote": environ.get("REMOTE_ADDR", "-"),
                "status": resp.status_code,
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "user_agent": environ.get("HTTP_USER_AGENT", ""),
            },
        )
