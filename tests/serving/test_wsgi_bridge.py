"""``dex_py.serving.wsgi_bridge.build_environ``: an RSGI scope and a read body become a PEP 3333
environ."""

from __future__ import annotations

from dataclasses import dataclass, field

from dex_py.serving.wsgi_bridge import build_environ


@dataclass
class Headers:
    pairs: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return self.pairs


@dataclass
class Scope:
    headers: Headers
    method: str = "POST"
    path: str = "/dex/café"
    query_string: str = "a=1&b=%C3%A9"
    server: str = "[::1]:5556"
    client: str = "10.0.0.7:40000"
    http_version: str = "1.1"
    scheme: str = "https"
    proto: str = "http"
    extra: dict[str, str] = field(default_factory=dict)


def test_environ_from_scope_and_body() -> None:
    scope = Scope(
        Headers(
            [
                ("content-type", "application/x-www-form-urlencoded"),
                ("transfer-encoding", "chunked"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "2.2.2.2"),
            ]
        )
    )
    environ = build_environ(scope, b"grant_type=x")
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/dex/cafÃ©"  # the UTF-8 bytes as latin-1 (PEP 3333)
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("::1", "5556")
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("10.0.0.7", "40000")
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "12"  # the body was read in full
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert environ["wsgi.input"].read() == b"grant_type=x"
    assert "PATH" not in environ  # nothing from the process environment
