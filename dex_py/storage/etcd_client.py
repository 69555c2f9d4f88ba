"""A small client of etcd's v3 API through its gRPC gateway (JSON over HTTP), for ``storage.etcd``.

Why the gateway and ``requests`` rather than a gRPC client library: ``python-etcd3`` is
unmaintained (its last release predates protobuf 4 and needs the slow pure-Python protobuf
today), and the other gRPC clients are young or pull a large gRPC stack. Every etcd v3 server
(3.4 included, Debian's ``etcd-server``) serves the same API as JSON on its client port
(``POST /v3/kv/range``, ``/v3/kv/put``, ``/v3/kv/txn``, ``/v3/kv/deleterange``,
``/v3/lease/grant``, ``/v3/auth/authenticate``; keys and values base64, 64-bit integers as
strings), and ``requests`` is already a dependency. Watches are not needed.

Endpoints are tried in order: one that cannot be reached is skipped for the next (a write is
retried on the next endpoint only when it was never sent). With a username, the client logs in
(``/v3/auth/authenticate``) and logs in again once when etcd says its token expired. Connecting
times out after 2 seconds (Dex's dial timeout), a request after 10.

Failures to reach etcd raise ``EtcdUnavailable`` (the web layer answers 503, as for a database
that is down); an error etcd answers raises ``EtcdError`` with its gRPC code and message.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from dex_py.storage.etcd_settings import EtcdSettings
from dex_py.storage.records import StorageError

CONNECT_TIMEOUT = 2.0
REQUEST_TIMEOUT = 10.0
PAGE = 500  # keys per range request when listing
MAX_TXN_OPS = 100  # etcd's default limit is 128 operations per transaction
_GRPC_NOT_FOUND = 5
_GRPC_UNAVAILABLE = (4, 14)  # DEADLINE_EXCEEDED, UNAVAILABLE


class EtcdError(StorageError):
    """etcd refused a request (``code`` is the gRPC status code)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"etcd: {message}")

    @property
    def lease_not_found(self) -> bool:
        return self.code == _GRPC_NOT_FOUND and "lease" in str(self)


class EtcdUnavailable(StorageError):
    """No endpoint could be reached (or answered in time)."""


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text or "")


def prefix_end(prefix: str) -> str:
    """The ``range_end`` (base64) that selects every key starting with ``prefix``."""
    raw = bytearray(prefix.encode())
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return b64(bytes(raw))
        raw.pop()
    return b64(b"\0")  # every key


# Operations for ``txn``: each a RequestOp in JSON.
def op_put(key: str, value: bytes, lease: int = 0) -> dict[str, Any]:
    put: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)
    return {"request_put": put}


def op_get(key: str, *, count_only: bool = False) -> dict[str, Any]:
    return {"request_range": {"key": b64(key), "count_only": count_only}}


def op_delete(key: str) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key)}}


# Comparisons for ``txn``.
def mod_revision_is(key: str, revision: int) -> dict[str, Any]:
    """``key`` was last written at ``revision`` (0: the key does not exist)."""
    if revision == 0:
        return absent(key)
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


def absent(key: str) -> dict[str, Any]:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


class KeyValue:
    """One key as etcd returned it."""

    __slots__ = ("key", "lease", "mod_revision", "value")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.key = unb64(raw["key"]).decode()
        self.value = unb64(raw.get("value", ""))
        self.mod_revision = int(raw.get("mod_revision", 0))
        self.lease = int(raw.get("lease", 0))


class _ServerName(HTTPAdapter):
    """Verifies the server certificate against ``ssl.serverName`` instead of the URL's host."""

    def __init__(self, server_name: str) -> None:
        self._server_name = server_name
        super().__init__(pool_maxsize=16)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._server_name
        kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)


class EtcdClient:
    """The v3 JSON API of one etcd cluster; thread-safe."""

    def __init__(self, settings: EtcdSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._current = 0  # the endpoint that answered last
        self._token = ""
        self._http = self._session()

    def _session(self) -> requests.Session:
        http = requests.Session()
        s = self.settings
        adapter = _ServerName(s.server_name) if s.server_name else HTTPAdapter(pool_maxsize=16)
        http.mount("https://", adapter)
        http.mount("http://", HTTPAdapter(pool_maxsize=16))
        http.verify = s.ca_file or True
        if s.cert_file:
            http.cert = (s.cert_file, s.key_file)
        http.trust_env = False  # no proxies from the environment between dex-py and its storage
        return http

    def reset_after_fork(self) -> None:
        """A fresh connection pool for a forked worker (sockets are never shared)."""
        self._http = self._session()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # transport

    def call(self, path: str, body: dict[str, Any], *, idempotent: bool = True) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>`` and return the JSON answer."""
        try:
            return self._call(path, body, idempotent)
        except EtcdError as exc:
            if not self.settings.username or "auth token" not in str(exc):
                raise
            self._token = ""  # expired or revoked: log in again, once
            return self._call(path, body, idempotent)

    def _call(self, path: str, body: dict[str, Any], idempotent: bool) -> dict[str, Any]:
        if self.settings.username and not self._token and path != "auth/authenticate":
            self._login()
        headers = {"Authorization": self._token} if self._token else {}
        endpoints = self.settings.endpoints
        last: Exception | None = None
        for step in range(len(endpoints)):
            index = (self._current + step) % len(endpoints)
            try:
                answer = self._http.post(
                    f"{endpoints[index]}/v3/{path}",
                    json=body,
                    headers=headers,
                    timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT),
                )
            except requests.ConnectionError as exc:
                last = exc
                if idempotent or _never_sent(exc):
                    continue
                raise EtcdUnavailable(f"etcd at {endpoints[index]}: {type(exc).__name__}") from None
            except requests.Timeout as exc:
                raise EtcdUnavailable(f"etcd at {endpoints[index]}: timed out") from exc
            except requests.RequestException as exc:  # a broken answer
                raise EtcdUnavailable(f"etcd at {endpoints[index]}: {type(exc).__name__}") from None
            self._current = index
            return _decode(answer)
        raise EtcdUnavailable(f"no etcd endpoint reachable ({type(last).__name__})") from None

    def _login(self) -> None:
        with self._lock:
            if self._token:
                return
            answer = self._call(
                "auth/authenticate",
                {"name": self.settings.username, "password": self.settings.password},
                True,
            )
            self._token = str(answer.get("token", ""))

    # key-value API

    def get(self, key: str) -> KeyValue | None:
        kvs = self.call("kv/range", {"key": b64(key)}).get("kvs", [])
        return KeyValue(kvs[0]) if kvs else None

    def scan(self, prefix: str) -> Iterator[KeyValue]:
        """Every key under ``prefix`` in key order, read in pages at one revision (or, if etcd
        compacted that revision away meanwhile, the later pages at the current one)."""
        start, end, revision, pinned = b64(prefix), prefix_end(prefix), 0, True
        while True:
            body: dict[str, Any] = {"key": start, "range_end": end, "limit": str(PAGE)}
            if revision and pinned:
                body["revision"] = str(revision)
            try:
                answer = self.call("kv/range", body)
            except EtcdError as exc:
                if "revision" not in body or "compacted" not in str(exc):
                    raise
                pinned = False
                del body["revision"]
                answer = self.call("kv/range", body)
            revision = revision or int(answer["header"]["revision"])
            kvs = [KeyValue(raw) for raw in answer.get("kvs", [])]
            yield from kvs
            if not answer.get("more") or not kvs:
                return
            start = b64(kvs[-1].key.encode() + b"\0")

    def delete(self, key: str) -> int:
        """Delete ``key``; returns 1 if it existed, else 0."""
        answer = self.call("kv/deleterange", {"key": b64(key)}, idempotent=False)
        return int(answer.get("deleted", 0))

    def delete_prefix(self, prefix: str) -> int:
        answer = self.call(
            "kv/deleterange",
            {"key": b64(prefix), "range_end": prefix_end(prefix)},
            idempotent=False,
        )
        return int(answer.get("deleted", 0))

    def txn(
        self,
        compare: Sequence[dict[str, Any]],
        success: Sequence[dict[str, Any]],
        failure: Sequence[dict[str, Any]] = (),
    ) -> tuple[bool, list[dict[str, Any]]]:
        """One transaction: whether every comparison held, and the responses of the branch run."""
        answer = self.call(
            "kv/txn",
            {"compare": list(compare), "success": list(success), "failure": list(failure)},
            idempotent=False,
        )
        return bool(answer.get("succeeded")), list(answer.get("responses", []))

    def grant_lease(self, ttl: int) -> int:
        return int(self.call("lease/grant", {"TTL": str(ttl)}, idempotent=False)["ID"])

    def lease_ttl(self, lease: int) -> int:
        """The remaining seconds of ``lease`` (-1 once gone), for tests and diagnostics."""
        return int(self.call("lease/timetolive", {"ID": str(lease)}).get("TTL", -1))


def range_kvs(response: dict[str, Any]) -> list[KeyValue]:
    """The keys of one ``request_range`` response inside a transaction's responses."""
    return [KeyValue(raw) for raw in response.get("response_range", {}).get("kvs", [])]


def range_count(response: dict[str, Any]) -> int:
    return int(response.get("response_range", {}).get("count", 0))


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Whether the connection failed before the request went out (safe to send elsewhere)."""
    text = repr(exc)
    return "NewConnectionError" in text or "ConnectTimeout" in text


def _decode(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise EtcdError(2, f"HTTP {answer.status_code} without JSON") from None
    if not isinstance(body, dict):
        raise EtcdError(2, f"HTTP {answer.status_code}: unexpected answer")
    if answer.status_code != 200 or "error" in body:
        message = str(body.get("message") or body.get("error") or answer.status_code)
        code = int(body.get("code", 2))
        if code in _GRPC_UNAVAILABLE or answer.status_code == 503:  # no leader, timed out, ...
            raise EtcdUnavailable(f"etcd: {message.splitlines()[0]}")
        raise EtcdError(code, message.splitlines()[0])
    return body
