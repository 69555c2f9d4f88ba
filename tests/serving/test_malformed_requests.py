"""Malformed requests get a 4xx and at most one log line, never a 500 or a traceback (issue 7
#15). Raw sockets against a real ``dex-py serve``: broken chunked framing at ``/token`` (bad
chunk size, missing CRLF after the data), bodies cut short, too large or with a bad length,
oversized heads, and bytes that are not UTF-8 in form bodies, query strings and paths."""

from __future__ import annotations

import socket

import pytest

pytestmark = [pytest.mark.live, pytest.mark.slow]

FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"
TOKEN_CHUNKED = (
    b"POST /dex/token HTTP/1.1\r\nHost: x\r\n" + FORM + b"Transfer-Encoding: chunked\r\n"
)
GRANT = b"grant_type=client_credentials"
NOT_UTF8 = b"grant_type=\xff\xfe\xc3(&scope=\xe9\xe9"


def raw_request(port: int, data: bytes, *, half_close: bool = False) -> tuple[int, bytes]:
    """Send ``data`` (``Connection: close`` added to the head), read to EOF; (status, body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + b"\r\nConnection: close" + sep + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


# (name, request, half-close, expected status, logged by dex-py as a refusal)
BODY_CASES = [
    (
        "bad chunk size",
        TOKEN_CHUNKED + b"\r\nzz\r\n" + GRANT + b"\r\n0\r\n\r\n",
        False,
        400,
    ),
    (
        "no CRLF after chunk data",
        TOKEN_CHUNKED + b"\r\n1d\r\n" + GRANT + b"XX0\r\n\r\n",
        False,
        400,
    ),
    (
        "chunked body cut off",
        TOKEN_CHUNKED + b"\r\n1d\r\n" + GRANT + b"\r\n",
        True,
        400,
    ),
    (
        "body shorter than Content-Length",
        b"POST /dex/token HTTP/1.1\r\nHost: x\r\n" + FORM + b"Content-Length: 99\r\n\r\n" + GRANT,
        True,
        400,
    ),
    (
        "Content-Length over the limit",
        b"POST /dex/token HTTP/1.1\r\nHost: x\r\n" + FORM + b"Content-Length: 99999999\r\n\r\n",
        False,
        413,
    ),
]
HEAD_CASES = [
    (
        "Content-Length not a number",
        b"POST /dex/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n" + GRANT,
        400,
    ),
    (
        "two different Content-Lengths",
        b"POST /dex/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    ),
    ("oversized header", b"GET /dex/healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000, 431),
    ("not HTTP", b"HELLO\r\n\r\n", 400),
]
APP_CASES = [
    (
        "form body not UTF-8",
        b"POST /dex/token HTTP/1.1\r\nHost: x\r\n"
        + FORM
        + b"Content-Length: %d\r\n\r\n" % len(NOT_UTF8)
        + NOT_UTF8,
    ),
    ("query not UTF-8", b"GET /dex/auth?client_id=%ff%fe&response_type=c%c3 HTTP/1.1\r\nHost: x"),
    ("path not UTF-8", b"GET /dex/%ff%fe/x HTTP/1.1\r\nHost: x"),
]


def test_malformed_requests_are_4xx_with_one_log_line_each(make_live_server) -> None:
    server = make_live_server()
    for name, request, half_close, expected in BODY_CASES:
        status, _ = raw_request(server.port, request, half_close=half_close)
        assert status == expected, name
    for name, request, expected in HEAD_CASES:
        status, _ = raw_request(server.port, request + b"\r\n\r\n")
        assert status == expected, name
    for name, request in APP_CASES:
        status, _ = raw_request(server.port, request + b"\r\n\r\n")
        assert 400 <= status < 500, name

    server.stop()
    log = server.log_text()
    assert "Traceback" not in log
    refusals = [line for line in log.splitlines() if "refused POST /dex/token" in line]
    assert len(refusals) == len(BODY_CASES), "\n".join(refusals)
    assert " 413 " in refusals[-1] and "malformed chunked body" in refusals[0]


def test_gunicorn_engine_answers_broken_chunked_bodies_with_400(make_live_server) -> None:
    server = make_live_server({"server": {"engine": "gunicorn"}})
    for name, request, half_close, _ in BODY_CASES[:2]:  # the two broken chunked bodies
        status, body = raw_request(server.port, request, half_close=half_close)
        assert status == 400, name
        assert b"invalid_request" in body, name  # the OAuth error JSON of /token
    server.stop()
    log = server.log_text()
    assert "Traceback" not in log
    assert log.count("refused POST /dex/token: 400 malformed body") == 2
