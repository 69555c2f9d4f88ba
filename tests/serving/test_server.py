"""dex_py.serving.server without starting a server: listeners, TLS context, workers, warnings, for
both engines (gunicorn's options, Granian's listeners)."""

from __future__ import annotations

import os
import resource
import ssl
from pathlib import Path

import pytest

from dex_py.config import Config, ServerConfig, StorageConfig, WebConfig
from dex_py.serving import server
from dex_py.serving.granian_server import build_granian, raise_open_files_limit
from dex_py.serving.granian_worker import Listener
from dex_py.serving.gunicorn_server import DexSyncWorker, build_application
from dex_py.serving.server import ServeError, default_workers, make_ssl_context, startup_warnings
from tests.services import free_port
from tests.tls import CertPair, self_signed_cert


@pytest.fixture(autouse=True)
def no_migrations(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    calls: list[Config] = []
    monkeypatch.setattr(server, "run_migrations", calls.append)
    return calls


def cfg(**kw: object) -> Config:
    web = kw.pop("web", WebConfig(http="127.0.0.1:5556"))
    return Config(issuer="http://127.0.0.1:5556/dex", web=web, **kw)  # type: ignore[arg-type]


def test_default_workers_is_bounded() -> None:
    assert 2 <= default_workers() <= 8


def test_options_for_http(no_migrations: list[Config]) -> None:
    config = cfg(storage=StorageConfig(type="sqlite3"), server=ServerConfig(workers=3, timeout=9))
    app = build_application(config, "c.yaml")
    assert app.cfg is not None
    assert app.cfg.bind == ["127.0.0.1:5556"]
    assert app.cfg.workers == 3
    assert app.cfg.timeout == 9
    assert app.cfg.worker_class is DexSyncWorker
    assert app.cfg.preload_app is False
    assert app.tls is None
    assert no_migrations == [config]


def test_workers_argument_wins_but_memory_forces_one() -> None:
    sql = cfg(storage=StorageConfig(type="postgres"), server=ServerConfig(workers=3))
    assert build_application(sql, "c", workers=5).cfg.workers == 5
    memory = cfg(server=ServerConfig(workers=3))
    assert build_application(memory, "c", workers=5).cfg.workers == 1


def test_https_and_http_bind_both(tls_pair: CertPair) -> None:
    web = WebConfig(
        http="127.0.0.1:5556",
        https="0.0.0.0:5554",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
    )
    app = build_application(cfg(web=web), "c")
    assert app.cfg is not None and app.cfg.bind == ["0.0.0.0:5554", "127.0.0.1:5556"]
    assert app.tls_port == 5554 and app.tls is not None
    assert not app.cfg.is_ssl  # TLS is ours, per listener, not gunicorn's for every bind


@pytest.mark.parametrize(
    ("web", "message"),
    [
        (WebConfig(), "web.http and/or web.https"),
        (WebConfig(https="127.0.0.1:5554"), "tlsCert and web.tlsKey are required"),
        (
            WebConfig(https="127.0.0.1:5554", tls_cert="/nope.crt", tls_key="/nope.key"),
            "web.tlsCert/web.tlsKey",
        ),
        (WebConfig(http="localhost"), "expected host:port"),
    ],
)
def test_bad_listen_settings(web: WebConfig, message: str) -> None:
    with pytest.raises(ServeError, match=message):
        build_application(cfg(web=web), "c")


def test_same_port_for_http_and_https_is_refused(tls_pair: CertPair) -> None:
    web = WebConfig(
        http="127.0.0.1:5554",
        https="0.0.0.0:5554",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
    )
    with pytest.raises(ServeError, match="different ports"):
        build_application(cfg(web=web), "c")


@pytest.mark.parametrize(
    ("version", "minimum"), [("1.2", ssl.TLSVersion.TLSv1_2), ("1.3", ssl.TLSVersion.TLSv1_3)]
)
def test_ssl_context_minimum_version(
    tls_pair: CertPair, version: str, minimum: ssl.TLSVersion
) -> None:
    web = WebConfig(tls_cert=str(tls_pair.cert), tls_key=str(tls_pair.key))
    web.tls_min_version = version
    assert make_ssl_context(web).minimum_version == minimum


def test_ssl_context_rejects_other_versions(tls_pair: CertPair) -> None:
    web = WebConfig(tls_cert=str(tls_pair.cert), tls_key=str(tls_pair.key), tls_min_version="1.1")
    with pytest.raises(ServeError, match="tlsMinVersion"):
        make_ssl_context(web)


def test_tls_context_reloads_changed_certificate(tmp_path: Path) -> None:
    pair = self_signed_cert(tmp_path)
    provider = server.TLSContextProvider(WebConfig(tls_cert=str(pair.cert), tls_key=str(pair.key)))
    first = provider.get()
    assert provider.get() is first
    self_signed_cert(tmp_path)  # same paths, new key pair
    stat = pair.cert.stat()
    os.utime(pair.cert, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = provider.get()
    assert second is not first
    pair.key.write_text("garbage")  # mid-rotation: keep the last good context
    os.utime(pair.key, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert provider.get() is second


@pytest.mark.parametrize(
    ("issuer", "storage", "expected"),
    [
        ("http://127.0.0.1:5556/dex", "sqlite3", []),
        ("http://localhost:5556/dex", "postgres", []),
        ("https://idp.example.com/dex", "mysql", []),
        ("http://idp.example.com/dex", "sqlite3", ["plain HTTP"]),
        ("http://[::1]:5556/dex", "memory", ["memory"]),
    ],
)
def test_startup_warnings(issuer: str, storage: str, expected: list[str]) -> None:
    config = Config(issuer=issuer, storage=StorageConfig(type=storage))
    found = startup_warnings(config)
    assert len(found) == len(expected)
    for warning, word in zip(found, expected, strict=True):
        assert word in warning


def test_granian_serves_https_then_http_with_tls_minimum(tls_pair: CertPair) -> None:
    http_port, https_port = free_port(), free_port()
    web = WebConfig(
        http=f"127.0.0.1:{http_port}",
        https=f":{https_port}",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
        tls_min_version="1.3",
    )
    config = cfg(web=web, storage=StorageConfig(type="sqlite3"), server=ServerConfig(workers=3))
    built = build_granian(config, "c")
    assert built.listeners == [
        Listener("0.0.0.0", https_port, (str(tls_pair.cert), str(tls_pair.key), "tls1.3")),
        Listener("127.0.0.1", http_port),
    ]
    assert built.workers == 3
    assert built.setup.ready_path == "/dex/healthz/ready"
    assert built.shutdown_delay == 5.0  # the default server.shutdownDelay
    assert built.cert_files == (str(tls_pair.cert), str(tls_pair.key))


def test_granian_memory_storage_forces_one_worker_and_checks_listeners() -> None:
    config = cfg(web=WebConfig(http=f"127.0.0.1:{free_port()}"), server=ServerConfig(workers=3))
    assert build_granian(config, "c", workers=4).workers == 1
    with pytest.raises(ServeError, match=r"web\.http and/or web\.https"):
        build_granian(cfg(web=WebConfig()), "c")


def test_granian_raises_the_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        assert raise_open_files_limit(wanted=1024) == min(1024, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(1024, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("engine", ["granian", "gunicorn"])
def test_a_port_something_listens_on_is_refused_plainly(server_runner, engine: str) -> None:
    """Granian: SO_REUSEPORT would let a second server share the port and split the traffic;
    gunicorn: it would retry and log its own lines. Both: one plain error before starting."""
    port = free_port()
    server_runner.standin([port], http=f"127.0.0.1:{port}")  # a running Granian server
    config = cfg(web=WebConfig(http=f"127.0.0.1:{port}"))
    build = build_granian if engine == "granian" else build_application
    with pytest.raises(ServeError, match=rf"web\.http 127\.0\.0\.1:{port}: cannot listen"):
        build(config, "c")
