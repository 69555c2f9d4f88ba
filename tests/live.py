"""Live-server harness for end-to-end tests: a real ``dex-py serve`` and helpers to drive it.

``live_server(...)`` writes a temporary Dex-style config (SQLite storage, the static client
``example-app``, the public client ``public-cli``, the ``mock`` connector and the password DB with
``admin@example.com`` / ``password``), starts ``dex-py serve`` in its own process group and waits
for ``/healthz``. The fixtures ``live_issuer`` (one per test session) and ``make_live_server``
(a factory; servers stop at the end of the test) are registered by ``tests/conftest.py``.

``verify_id_token`` checks an ID token with jwcrypto against the issuer's ``/keys`` (OpenID
Connect Core §3.1.3.7), sharing no code with ``dex_py``. The browser part of a login is driven by
``tests/login_flow.py``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jwcrypto.jwk import JWKSet
from jwcrypto.jws import JWS

from tests.services import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CLIENT_ID = "example-app"
EXAMPLE_CLIENT_SECRET = "ZXhhbXBsZS1hcHAtc2VjcmV0"
EXAMPLE_REDIRECT_URI = "http://127.0.0.1:5555/callback"
PUBLIC_CLIENT_ID = "public-cli"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "password"
ADMIN_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
ADMIN_USER_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"
ADMIN_GROUPS = ["admins", "developers"]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overrides`` merged in: dicts recursively, other values replaced,
    and a ``None`` override deleting the key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def default_config(
    port: int,
    data_dir: Path,
    *,
    redirect_uris: Sequence[str] = (),
    storage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The config the harness serves on ``port`` before ``config_overrides`` are merged in."""
    uris = list(dict.fromkeys([EXAMPLE_REDIRECT_URI, *redirect_uris]))
    return {
        "issuer": f"http://127.0.0.1:{port}/dex",
        "storage": storage
        or {"type": "sqlite3", "config": {"file": str(data_dir / "dex.sqlite3")}},
        "web": {"http": f"127.0.0.1:{port}"},
        "logger": {"level": "debug"},
        "server": {"shutdownDelay": "0s"},  # tests stop servers often; no drain period
        "staticClients": [
            {
                "id": EXAMPLE_CLIENT_ID,
                "secret": EXAMPLE_CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": uris,
            },
            {
                "id": PUBLIC_CLIENT_ID,
                "name": "Public CLI",
                "public": True,
                "redirectURIs": uris,
            },
        ],
        "connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"}],
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": ADMIN_EMAIL,
                "hash": ADMIN_HASH,
                "username": "admin",
                "userID": ADMIN_USER_ID,
                "groups": ADMIN_GROUPS,
            }
        ],
    }


def _dex_py_command() -> list[str]:
    """``<venv>/bin/dex-py``, or ``python -m dex_py.cli`` if the console script is not installed."""
    for script in (Path(sys.executable).parent / "dex-py", REPO_ROOT / ".venv" / "bin" / "dex-py"):
        if script.exists():
            return [str(script)]
    return [sys.executable, "-m", "dex_py.cli"]


class LiveServer:
    """A running ``dex-py serve`` process (see ``live_server``)."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        config: dict[str, Any],
        workers: int,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port
        self.data_dir = data_dir
        self.config = config
        self.issuer: str = config["issuer"]
        self.config_path = data_dir / "config.yaml"
        self.log_path = data_dir / "server.log"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *_dex_py_command(),
                "serve",
                str(self.config_path),
                "--workers",
                str(workers),
                *extra_args,
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown reaches the workers
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def url(self, path: str = "") -> str:
        """``issuer + path``, e.g. ``url("/token")``."""
        return self.issuer + ("/" + path.lstrip("/") if path else "")

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll ``<issuer>/healthz`` until it answers 200; fail with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                pytest.fail(
                    f"dex-py serve exited with {self.process.returncode}; log tail:\n{tail}"
                )
            try:
                if requests.get(self.url("/healthz"), timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        pytest.fail(f"dex-py serve not healthy after {timeout:.0f}s; log tail:\n{tail}")

    def stop(self) -> None:
        """SIGTERM the process group, wait, then SIGKILL if needed. Safe to call twice."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        self._signal(signal.SIGKILL)  # stray workers left in the group, if any
        self._log.close()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


def live_server(
    config_overrides: dict[str, Any] | None = None,
    *,
    redirect_uris: Sequence[str] = (),
    storage: dict[str, Any] | None = None,
    workers: int = 2,
    base_dir: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> LiveServer:
    """Start ``dex-py serve`` on a free port and wait until it is healthy.

    ``redirect_uris`` are added to both static clients; ``storage`` replaces the SQLite default;
    ``config_overrides`` is deep-merged last (``None`` values delete keys). ``port`` (default: a
    free one) lets a caller register the issuer's URLs elsewhere first; ``extra_args`` are added
    to the ``serve`` command line. Call ``.stop()``.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="dexpy-live-", dir=base_dir))
    port = port or free_port()
    config = default_config(port, data_dir, redirect_uris=redirect_uris, storage=storage)
    merged = deep_merge(config, config_overrides or {})
    server = LiveServer(port, data_dir, merged, workers, extra_args)
    server.wait_ready(startup_timeout)
    return server


@contextlib.contextmanager
def example_config_server(workers: int = 3) -> Iterator[LiveServer]:
    """The server ``make run`` starts: ``config.example.yaml`` unchanged but for free ports and
    a fresh SQLite file (and no drain period at shutdown), with ``workers`` workers."""
    config: dict[str, Any] = yaml.safe_load((REPO_ROOT / "config.example.yaml").read_text())
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="dexpy-example-"))
    config["issuer"] = f"http://127.0.0.1:{port}/dex"
    config["web"]["http"] = f"127.0.0.1:{port}"
    config["telemetry"]["http"] = f"127.0.0.1:{free_port()}"
    config["storage"]["config"]["file"] = str(data_dir / "dex.db")
    config["server"]["shutdownDelay"] = "0s"
    server = LiveServer(port, data_dir, config, workers)
    try:
        server.wait_ready(STARTUP_TIMEOUT)
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One default live server for the whole test session (per xdist worker)."""
    server = live_server(base_dir=tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture
def make_live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``make_live_server(config_overrides=None, **kw)``; servers stop after the test."""
    servers: list[LiveServer] = []

    def factory(config_overrides: dict[str, Any] | None = None, **kw: Any) -> LiveServer:
        kw.setdefault("base_dir", tmp_path)
        server = live_server(config_overrides, **kw)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


# --- independent ID token verification -----------------------------------------------------------


def _half_hash(value: str, alg: str) -> str:
    name = {"256": "sha256", "384": "sha384", "512": "sha512"}[alg[-3:]]
    digest = hashlib.new(name, value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def verify_id_token(
    issuer: str,
    token: str,
    *,
    audience: str,
    nonce: str | None = None,
    access_token: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """Verify ``token`` against ``<issuer>/keys`` and return its claims; AssertionError if bad."""
    jwks = requests.get(issuer + "/keys", timeout=10)
    assert jwks.status_code == 200, jwks.text
    keys = JWKSet.from_json(jwks.text)
    jws = JWS()
    jws.deserialize(token)
    header = jws.jose_header
    assert isinstance(header, dict), "ID token must carry exactly one signature"
    key = keys.get_key(header.get("kid", ""))
    assert key is not None, f"kid {header.get('kid')!r} not in {issuer}/keys"
    alg = key.get("alg")
    assert alg, "JWKS key has no alg"
    assert header.get("alg") == alg, f"header alg {header.get('alg')} != key alg {alg}"
    jws.verify(key, alg=alg)  # raises on a bad signature
    claims: dict[str, Any] = json.loads(jws.payload)

    now = time.time()
    assert claims["iss"] == issuer, claims["iss"]
    aud = claims["aud"]
    audiences = aud if isinstance(aud, list) else [aud]
    assert audience in audiences, f"aud {aud!r} lacks {audience!r}"
    if len(audiences) > 1:
        assert claims.get("azp") == audience, claims.get("azp")
    assert isinstance(claims["exp"], int) and claims["exp"] > now, "expired"
    assert isinstance(claims["iat"], int) and claims["iat"] <= now + 5, "iat in the future"
    assert claims["iat"] <= claims["exp"]
    if nonce is not None:
        assert claims.get("nonce") == nonce, f"nonce {claims.get('nonce')!r} != {nonce!r}"
    if access_token is not None and "at_hash" in claims:
        assert claims["at_hash"] == _half_hash(access_token, alg), "at_hash mismatch"
    if code is not None and "c_hash" in claims:
        assert claims["c_hash"] == _half_hash(code, alg), "c_hash mismatch"
    return claims


def verify_token_response(
    issuer: str, token: dict[str, Any], *, audience: str, nonce: str | None = None
) -> dict[str, Any]:
    """``verify_id_token`` on a token endpoint answer: its ``id_token``, with ``at_hash``
    checked against its ``access_token``; returns the claims."""
    return verify_id_token(
        issuer,
        token["id_token"],
        audience=audience,
        nonce=nonce,
        access_token=token["access_token"],
    )
