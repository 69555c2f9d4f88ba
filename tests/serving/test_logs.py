"""dex_py.ops.logs: text and JSON output, levels, secret redaction, gunicorn's access records."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config as GunicornConfig

from dex_py.config import LoggerConfig
from dex_py.ops.logs import REDACTED, GunicornLogger, redact_text, setup_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def capture(fmt: str, level: str = "info") -> io.StringIO:
    stream = io.StringIO()
    setup_logging(LoggerConfig(level=level, format=fmt), stream=stream)
    return stream


def test_json_lines_carry_time_level_logger_msg_and_extras() -> None:
    stream = capture("json")
    logging.getLogger("dex_py.test").info("user %s logged in", "jane", extra={"connector": "ldap"})
    entry = json.loads(stream.getvalue().strip())
    assert entry["level"] == "info"
    assert entry["logger"] == "dex_py.test"
    assert entry["msg"] == "user jane logged in"
    assert entry["connector"] == "ldap"
    assert entry["time"].endswith("+00:00")


def test_json_includes_exception_text() -> None:
    stream = capture("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("dex_py.test").exception("failed")
    entry = json.loads(stream.getvalue().strip())
    assert "RuntimeError: boom" in entry["error"]


def test_text_format_is_time_level_logger_message_fields() -> None:
    stream = capture("text")
    logging.getLogger("dex_py.test").warning("disk low", extra={"free": "1 GB"})
    line = stream.getvalue().strip()
    _time, level, logger, rest = line.split(" ", 3)
    assert (level, logger) == ("warn", "dex_py.test")
    assert rest == 'disk low free="1 GB"'


@pytest.mark.parametrize(
    ("level", "shown"),
    [("debug", {"d", "i", "w"}), ("info", {"i", "w"}), ("warn", {"w"}), ("error", set())],
)
def test_level(level: str, shown: set[str]) -> None:
    stream = capture("json", level)
    log = logging.getLogger("dex_py.test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    assert {json.loads(line)["msg"] for line in stream.getvalue().splitlines()} == shown


def test_bad_format_or_level_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"logger\.format"):
        setup_logging(LoggerConfig(format="xml"))
    with pytest.raises(ValueError, match=r"logger\.level"):
        setup_logging(LoggerConfig(level="loud"))


def test_setup_twice_does_not_duplicate_lines() -> None:
    capture("json")
    stream = capture("json")
    logging.getLogger("dex_py.test").info("once")
    assert len(stream.getvalue().splitlines()) == 1


def test_secret_extra_fields_are_redacted() -> None:
    stream = capture("json")
    logging.getLogger("dex_py.test").info(
        "token request",
        extra={
            "client_secret": "s3cr3t",
            "password": "hunter2",
            "form": {"code": "abc", "grant_type": "authorization_code", "refresh_token": "rt"},
            "headers": {"Authorization": "Bearer xyz", "Accept": "application/json"},
            "client_id": "example-app",
        },
    )
    raw = stream.getvalue()
    for secret in ("s3cr3t", "hunter2", "abc", "rt", "Bearer xyz"):
        assert secret not in raw
    entry = json.loads(raw)
    assert entry["client_secret"] == REDACTED
    assert entry["password"] == REDACTED
    assert entry["form"] == {
        "code": REDACTED,
        "grant_type": "authorization_code",
        "refresh_token": REDACTED,
    }
    assert entry["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert entry["client_id"] == "example-app"


def test_secret_query_parameters_in_urls_are_redacted() -> None:
    stream = capture("text")
    url = "https://app.example/callback?code=SPLxlOBeZQ&state=af0ifjsldkj&access_token=eyJx"
    logging.getLogger("dex_py.test").info("redirecting to %s", url, extra={"next": url})
    out = stream.getvalue()
    assert "SPLxlOBeZQ" not in out and "eyJx" not in out
    assert "state=af0ifjsldkj" in out
    assert out.count(f"code={REDACTED}") == 2


def test_redact_text_leaves_lookalike_names_alone() -> None:
    text = "status_code=400 error_code=x client_id=a id_token_hint=tok client-secret=b"
    assert redact_text(text) == (
        f"status_code=400 error_code=x client_id=a id_token_hint={REDACTED} "
        f"client-secret={REDACTED}"
    )


def test_gunicorn_access_records_use_our_handler_and_redact() -> None:
    stream = capture("json")
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    logger = GunicornLogger(cfg)
    req = SimpleNamespace(method="GET", path="/dex/callback", query="code=abc123&state=s")
    resp = SimpleNamespace(status_code=302)
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_USER_AGENT": "curl"}
    logger.access(resp, req, environ, timedelta(milliseconds=5))
    logger.error("worker trouble")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    access, error = entries
    assert access["logger"] == "gunicorn.access"
    assert access["msg"] == f"GET /dex/callback?code={REDACTED}&state=s 302"
    assert access["status"] == 302 and access["remote"] == "10.0.0.1"
    assert error["logger"] == "gunicorn.error" and error["level"] == "error"


def test_gunicorn_access_log_off_by_default() -> None:
    stream = capture("json")
    logger = GunicornLogger(GunicornConfig())
    req = SimpleNamespace(method="GET", path="/", query="")
    logger.access(SimpleNamespace(status_code=200), req, {}, timedelta(0))
    assert stream.getvalue() == ""


def test_text_format_cannot_be_split_by_a_value() -> None:
    """A user name typed into a form (an audit field) or formatted into a message cannot start a
    forged log line: line breaks and other control characters are escaped."""
    stream = capture("text")
    forged = "alice\n2026-01-01T00:00:00.000+00:00 info dex_py.audit login success"
    logging.getLogger("dex_py.test").warning("login by %s\x1b[2J", forged, extra={"user": forged})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "alice\\n2026" in lines[0] and "\\x1b[2J" in lines[0]
    assert 'user="alice\\n2026' in lines[0]


def test_exclude_fields_drops_them_from_every_line() -> None:
    stream = io.StringIO()
    setup_logging(
        LoggerConfig(level="info", format="json", exclude_fields=["email", "ip"]), stream=stream
    )
    extra = {"email": "a@example.com", "ip": "203.0.113.9", "client": "app"}
    logging.getLogger("dex_py.audit").info("audit: login success", extra=extra)
    entry = json.loads(stream.getvalue())
    assert entry["client"] == "app"
    assert "email" not in entry and "ip" not in entry
