"""Connections to the LDAP directory: TLS settings, a small thread-safe pool of service-bound
connections, one-shot user binds, and the translation of ldap3 failures into ``ConnectorError``.

ldap3's synchronous connections are not safe to share between threads, so each borrower gets a
connection for itself and gives it back. Connections are opened lazily (never at import or
``open`` time) and the pool forgets connections inherited across ``fork`` (gunicorn workers), so
no two processes ever share a socket. A pooled connection that went stale (the directory
restarted, a firewall dropped it) is replaced once, transparently; if a fresh connection fails
too, the directory is reported unreachable.

TLS: certificates are verified by default (``ssl.CERT_REQUIRED`` plus a host name check);
``rootCA``/``rootCAData`` replace the system CAs, as in Dex.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ldap3 import ANONYMOUS, NONE, SIMPLE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPBindError,
    LDAPCertificateError,
    LDAPCommunicationError,
    LDAPException,
    LDAPResponseTimeoutError,
    LDAPSSLConfigurationError,
    LDAPStartTLSError,
)

from connectors.base import ConnectorConfigError, ConnectorError
from connectors.ldap_config import LDAPConfig

__all__ = ["UNREACHABLE", "LDAPPool", "ServiceBindError"]

T = TypeVar("T")

UNREACHABLE = "the LDAP directory is unreachable"
BAD_CERTIFICATE = "the LDAP directory's TLS certificate could not be verified"
TLS_FAILED = "TLS negotiation with the LDAP directory failed"
RESULT_INVALID_CREDENTIALS = 49


class ServiceBindError(ConnectorError):
    """The service account (``bindDN``/``bindPW``) was refused by the directory."""


def translate(exc: BaseException, log: logging.Logger) -> ConnectorError:
    """A user-safe ``ConnectorError`` for an ldap3/socket failure (the details go to the log)."""
    if isinstance(exc, ConnectorError):
        return exc
    text = str(exc).lower()
    if isinstance(exc, LDAPCertificateError) or "certificate" in text or "hostname" in text:
        log.warning("LDAP TLS certificate rejected: %s", exc)
        return ConnectorError(BAD_CERTIFICATE)
    if isinstance(exc, LDAPStartTLSError | ssl.SSLError) or "ssl" in text or "tls" in text:
        log.warning("LDAP TLS negotiation failed: %s", exc)
        return ConnectorError(TLS_FAILED)
    if isinstance(exc, LDAPCommunicationError | LDAPResponseTimeoutError | OSError):
        log.warning("LDAP directory unreachable: %s", exc)
        return ConnectorError(UNREACHABLE)
    log.warning("LDAP operation failed: %s: %s", type(exc).__name__, exc)
    return ConnectorError("the LDAP directory failed to answer the request")


class LDAPPool:
    """Service-bound connections to one directory, reused across requests.

    ``run(fn)`` calls ``fn(connection)`` with a connection bound as ``bindDN`` (or anonymous);
    ``check_password(dn, password)`` binds a fresh, unpooled connection as the user."""

    def __init__(
        self,
        config: LDAPConfig,
        *,
        logger: logging.Logger,
        connect_timeout: float = 5.0,
        receive_timeout: int = 10,
        max_idle: int = 4,
        max_idle_seconds: float = 120.0,
    ) -> None:
        self._config = config
        self._log = logger
        self._receive_timeout = max(1, int(receive_timeout))  # ldap3 packs it as an integer
        self._max_idle = max_idle
        self._max_idle_seconds = max_idle_seconds
        host, port = config.address()
        _check_files(config)
        try:
            tls = None if config.insecure_no_ssl else self._tls(config, host)
        except LDAPSSLConfigurationError as exc:
            raise ConnectorConfigError([("config.rootCA", str(exc))]) from exc
        # A new ldap3 Server per connection: a Server remembers failed addresses and refuses
        # them for a while, which would delay recovery after the directory comes back.
        self._new_server = lambda: Server(
            host,
            port=port,
            use_ssl=config.use_ldaps,
            tls=tls,
            get_info=NONE,
            connect_timeout=connect_timeout,
        )
        self._lock = threading.Lock()
        self._idle: list[tuple[Connection, float]] = []
        self._pid = os.getpid()

    @staticmethod
    def _tls(config: LDAPConfig, host: str) -> Tls:
        verify = not config.insecure_skip_verify
        is_name = any(c.isalpha() for c in host) and ":" not in host
        return Tls(
            validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
            ca_certs_file=config.root_ca or None,
            ca_certs_data=config.ca_data(),
            local_certificate_file=config.client_cert or None,
            local_private_key_file=config.client_key or None,
            sni=host if is_name else None,
        )

    # --- connections --------------------------------------------------------------------------

    def _open(self, user: str | None, password: str | None) -> Connection:
        """A new connection, TLS set up, bound as ``user`` (anonymous if None)."""
        conn = Connection(
            self._new_server(),
            user=user,
            password=password,
            authentication=SIMPLE if user else ANONYMOUS,
            client_strategy=SYNC,
            auto_bind=False,
            read_only=True,
            raise_exceptions=False,
            receive_timeout=self._receive_timeout,
            auto_referrals=False,
            return_empty_attributes=False,
        )
        try:
            conn.open()
            if self._config.use_start_tls:
                conn.start_tls()
            if user is not None:
                conn.bind()
        except BaseException:
            _close_quietly(conn)
            raise
        return conn

    def _open_service(self) -> Connection:
        bind_dn = self._config.bind_dn or None
        conn = self._open(bind_dn, self._config.bind_pw if bind_dn else None)
        if bind_dn and not conn.bound:
            result = conn.result or {}
            _close_quietly(conn)
            self._log.error(
                "LDAP service bind as %s refused: %s", bind_dn, result.get("description")
            )
            raise ServiceBindError("the LDAP service account could not log in")
        return conn

    def _take(self) -> Connection | None:
        with self._lock:
            if os.getpid() != self._pid:  # forked: never touch the parent's sockets
                self._idle.clear()
                self._pid = os.getpid()
            now = time.monotonic()
            while self._idle:
                conn, since = self._idle.pop()
                if now - since <= self._max_idle_seconds and not conn.closed:
                    return conn
                _close_quietly(conn)
        return None

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            if os.getpid() == self._pid and len(self._idle) < self._max_idle and not conn.closed:
                self._idle.append((conn, time.monotonic()))
                return
        _close_quietly(conn)

    @contextmanager
    def _borrow(self, conn: Connection) -> Iterator[Connection]:
        try:
            yield conn
        except BaseException:
            _close_quietly(conn)  # an error may leave a half-read response on the socket
            raise
        self._give_back(conn)

    def run(self, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` on a service-bound connection; a stale pooled connection is
        retried once on a fresh one. Failures become ``ConnectorError``."""
        pooled = self._take()
        if pooled is not None:
            try:
                with self._borrow(pooled) as conn:
                    return fn(conn)
            except LDAPCommunicationError as exc:
                self._log.info("pooled LDAP connection failed (%s); reconnecting", exc)
            except (LDAPException, OSError) as exc:
                raise translate(exc, self._log) from exc
        try:
            fresh = self._open_service()
            with self._borrow(fresh) as conn:
                return fn(conn)
        except (LDAPException, OSError) as exc:
            raise translate(exc, self._log) from exc

    def check_password(self, dn: str, password: str) -> bool:
        """Bind as ``dn`` with ``password`` on a fresh connection: True if accepted, False for
        invalid credentials, ``ConnectorError`` for anything else. Never pass an empty
        password: an LDAP simple bind without one is an unauthenticated bind."""
        if not password:
            return False
        try:
            conn = self._open(dn, password)
            try:
                ok = conn.bound
                code = (conn.result or {}).get("result")
            finally:
                _close_quietly(conn)
        except LDAPBindError:
            return False
        except (LDAPException, OSError) as exc:
            raise translate(exc, self._log) from exc
        if ok:
            return True
        if code != RESULT_INVALID_CREDENTIALS:
            self._log.warning("LDAP user bind for %s failed with result %s", dn, code)
        return False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            mine = os.getpid() == self._pid
        if mine:
            for conn, _ in idle:
                _close_quietly(conn)


def _check_files(config: LDAPConfig) -> None:
    """``rootCA``, ``clientCert`` and ``clientKey`` must be readable files (checked at open,
    so a typo shows up as a config error, not as a failed login)."""
    errors = [
        (f"config.{name}", f"cannot read {path}")
        for name, path in (
            ("rootCA", config.root_ca),
            ("clientCert", config.client_cert),
            ("clientKey", config.client_key),
        )
        if path and not os.access(path, os.R_OK)
    ]
    if errors:
        raise ConnectorConfigError(errors)


def _close_quietly(conn: Connection) -> None:
    try:
        if not conn.closed:
            conn.unbind()
    except Exception:  # noqa: S110 - closing a broken socket may fail; nothing to do about it
        pass
