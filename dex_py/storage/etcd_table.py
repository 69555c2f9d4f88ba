"""The records of one kind in etcd (``storage.etcd``): key layout, leases, and the transactions
behind create, compare-and-swap update, delete, list, redeem and garbage collection.

Layout: ``<namespace><kind>/<id>`` holds the record as JSON (``codec.json_converters``); a kind
with a secondary unique key (a device request's user code) also holds
``<namespace><index>/<value>`` -> id, written and deleted in the same transactions as the record.

Expiry: a record with an expiry is put under an etcd lease that ends ``GRACE`` after it (rounded
up, see ``lease_end``; one lease is shared by every record ending then), so etcd drops what
nobody collected. Until then ``garbage_collect`` removes expired records as the SQL backends do (and
counts them); the grace keeps a just-expired record readable for its "expired" answer (RFC 8628
``expired_token``) and leaves collection to the collector. Every put re-attaches the lease of the
record's current expiry (a session or refresh token whose expiry moved gets the later lease).

Updates are compare-and-swap: read the record and its ``mod_revision``, call ``fn``, and write
only if the revision is unchanged (one transaction); a lost race re-reads (from the failed
transaction's own answer) and calls ``fn`` again, as ``Storage`` allows. Within one process the
updates of one key are also serialised by a lock, so threads of one worker do not race at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from dex_py.storage import etcd_client as ec
from dex_py.storage.codec import json_converters
from dex_py.storage.memory_table import utc
from dex_py.storage.records import AlreadyExistsError, NotFoundError, RefreshToken, StorageError

D = TypeVar("D")
R = TypeVar("R")
GRACE = timedelta(minutes=10)
LOCK_WAIT = 5.0
Ops = list[dict[str, Any]]


@dataclass(frozen=True)
class Kind(Generic[D]):
    """How one record type is kept: its key prefix, id, expiry and optional unique index."""

    name: str  # for messages: "auth request"
    prefix: str  # "auth-requests/"
    cls: type[D]
    key: Callable[[D], str]
    expiry: Callable[[D], datetime | None] = lambda _: None
    index_prefix: str = ""  # "device-user-codes/"
    index: Callable[[D], str] = lambda _: ""
    index_name: str = ""  # for messages: "user code"

    def encode(self, obj: D) -> bytes:
        enc, _ = _converters(self.cls)
        return json.dumps(enc(obj), separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, raw: bytes) -> D:
        _, dec = _converters(self.cls)
        return dec(json.loads(raw))


_CONVERTERS: dict[type, Any] = {}


def _converters(cls: type[D]) -> tuple[Callable[[D], Any], Callable[[Any], D]]:
    """``codec.json_converters(cls)``, built once per class."""
    if cls not in _CONVERTERS:
        _CONVERTERS[cls] = json_converters(cls)
    return _CONVERTERS[cls]


def lease_end(expiry: datetime, wall: float) -> int:
    """When (epoch seconds) the lease of a record expiring at ``expiry`` ends: ``GRACE`` after
    the expiry (or after now, for one already past), rounded up to the minute when that is
    within the hour, to the hour within a week, else to the day, so a few hundred leases at
    most serve every expiry however far out."""
    end = max(expiry.timestamp(), wall) + GRACE.total_seconds()
    step = 60 if end - wall < 3600 else 3600 if end - wall < 7 * 86400 else 86400
    return math.ceil(end / step) * step


class Leases:
    """One lease per ``lease_end``, granted on first use and shared; thread-safe."""

    def __init__(self, client: ec.EtcdClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._by_end: dict[int, int] = {}

    def for_expiry(self, expiry: datetime | None) -> int:
        """The lease for a record expiring at ``expiry`` (0: none, the record stays)."""
        if expiry is None:
            return 0
        wall = time.time()
        end = lease_end(expiry, wall)
        with self._lock:
            lease = self._by_end.get(end)
        if lease:
            return lease
        lease = self._client.grant_lease(math.ceil(end - wall))
        with self._lock:
            self._by_end = {e: id for e, id in self._by_end.items() if e > wall}
            self._by_end[end] = lease
        return lease

    def forget(self) -> None:
        """Drop every cached lease (one was revoked or expired under us)."""
        with self._lock:
            self._by_end.clear()


class Tables:
    """The generic operations on ``Kind`` records in one namespace."""

    def __init__(self, client: ec.EtcdClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.leases = Leases(client)
        self.reset_locks()

    def reset_locks(self) -> None:
        self._locks = [threading.RLock() for _ in range(64)]

    @contextlib.contextmanager
    def serialised(self, key: str) -> Iterator[None]:
        """Updates of ``key`` one at a time within this process (64 striped locks). Only an
        optimisation (compare-and-swap is what keeps updates correct), so after
        ``LOCK_WAIT`` seconds, say if an update's ``fn`` waits on another update, it goes on
        without the lock rather than risk a deadlock."""
        lock = self._locks[hash(key) % len(self._locks)]
        held = lock.acquire(timeout=LOCK_WAIT)
        try:
            yield
        finally:
            if held:
                lock.release()

    def path(self, kind: Kind[Any], id: str) -> str:
        return f"{self.namespace}{kind.prefix}{id}"

    def _index_path(self, kind: Kind[D], obj: D) -> str:
        return f"{self.namespace}{kind.index_prefix}{kind.index(obj)}"

    def write(self, compare: Ops, success: Callable[[], Ops], failure: Ops) -> tuple[bool, Ops]:
        """One transaction whose ``success`` operations (made by ``success()``, as they name
        leases) are built again, once, with fresh leases if etcd says a lease is gone."""
        try:
            return self.client.txn(compare, success(), failure)
        except ec.EtcdError as exc:
            if not exc.lease_not_found:
                raise
            self.leases.forget()
            return self.client.txn(compare, success(), failure)

    def put_value(self, path: str, value: bytes, expiry: datetime | None) -> Ops:
        """The operation writing a raw ``value`` under the lease of ``expiry``."""
        return [ec.op_put(path, value, self.leases.for_expiry(expiry))]

    def puts(self, kind: Kind[D], obj: D) -> Ops:
        """The operations writing ``obj`` (and its index entry) under its expiry's lease."""
        lease = self.leases.for_expiry(kind.expiry(obj))
        ops = [ec.op_put(self.path(kind, kind.key(obj)), kind.encode(obj), lease)]
        if kind.index_prefix:
            ops.append(ec.op_put(self._index_path(kind, obj), kind.key(obj).encode(), lease))
        return ops

    def _puts_and(self, kind: Kind[D], obj: D, more: Ops) -> Ops:
        return self.puts(kind, obj) + more

    def _deletes(self, kind: Kind[D], obj: D) -> Ops:
        ops = [ec.op_delete(self.path(kind, kind.key(obj)))]
        if kind.index_prefix:
            ops.append(ec.op_delete(self._index_path(kind, obj)))
        return ops

    def read(self, kind: Kind[D], id: str) -> tuple[D, int]:
        """The record ``id`` and its ``mod_revision``; raises ``NotFoundError``."""
        kv = self.client.get(self.path(kind, id))
        if kv is None:
            raise NotFoundError(f"{kind.name} {id!r} not found")
        return kind.decode(kv.value), kv.mod_revision

    def create(self, kind: Kind[D], obj: D) -> None:
        obj = utc(obj)
        id = kind.key(obj)
        compare = [ec.absent(self.path(kind, id))]
        if kind.index_prefix:
            compare.append(ec.absent(self._index_path(kind, obj)))
        done, answer = self.write(
            compare,
            partial(self.puts, kind, obj),
            [ec.op_get(self.path(kind, id), count_only=True)],
        )
        if done:
            return
        if ec.range_count(answer[0]):
            raise AlreadyExistsError(f"{kind.name} {id!r} already exists")
        raise AlreadyExistsError(f"{kind.index_name} {kind.index(obj)!r} already in use")

    def update(self, kind: Kind[D], id: str, fn: Callable[[D], D]) -> D:
        return self.swap(kind, id, fn, lambda new: (None, [], []))[0]

    def swap(
        self,
        kind: Kind[D],
        id: str,
        fn: Callable[[D], D],
        also: Callable[[D], tuple[R, Ops, Ops]],
    ) -> tuple[D, R]:
        """Compare-and-swap ``fn`` on record ``id``, together with ``also(new)``: a result, more
        comparisons and more operations for the same transaction. If those comparisons fail
        while the record did not change, ``AlreadyExistsError`` is raised (``redeem``)."""
        path = self.path(kind, id)
        with self.serialised(path):
            old, revision = self.read(kind, id)
            while True:
                new = fn(old)
                extra, compare, ops = also(new)
                if new is old or new == old:
                    if not compare:
                        return old, extra
                    new = old
                elif kind.key(new) != id or kind.index(new) != kind.index(old):
                    raise StorageError(f"updating {kind.name} {id!r} must not change its key")
                new = utc(new)
                done, answer = self.write(
                    [ec.mod_revision_is(path, revision), *compare],
                    partial(self._puts_and, kind, new, ops),
                    [ec.op_get(path)],
                )
                if done:
                    return new, extra
                kvs = ec.range_kvs(answer[0])
                if not kvs:
                    raise NotFoundError(f"{kind.name} {id!r} not found")
                if kvs[0].mod_revision == revision:
                    raise AlreadyExistsError(f"{kind.name} {id!r}: what it issues exists already")
                old, revision = kind.decode(kvs[0].value), kvs[0].mod_revision

    def redeem(
        self,
        kind: Kind[D],
        refresh: Kind[RefreshToken],
        id: str,
        fn: Callable[[D], D],
        issue: Callable[[D], RefreshToken | None],
    ) -> D:
        """``Storage.redeem_auth_code``: the record's update and the new refresh token in one
        transaction that also requires the token's id to be free."""

        def token_ops(new: D) -> tuple[None, Ops, Ops]:
            token = issue(new)
            if token is None:
                return None, [], []
            token = utc(token)
            path = self.path(refresh, token.id)
            return None, [ec.absent(path)], self.puts(refresh, token)

        try:
            return self.swap(kind, id, fn, token_ops)[0]
        except AlreadyExistsError:
            raise AlreadyExistsError("the refresh token to issue exists already") from None

    def delete(self, kind: Kind[D], id: str) -> None:
        path = self.path(kind, id)
        if not kind.index_prefix:
            if not self.client.delete(path):
                raise NotFoundError(f"{kind.name} {id!r} not found")
            return
        with self.serialised(path):
            while True:
                obj, revision = self.read(kind, id)
                done, _ = self.client.txn(
                    [ec.mod_revision_is(path, revision)], self._deletes(kind, obj)
                )
                if done:
                    return

    def records(self, kind: Kind[D]) -> Iterator[tuple[D, int]]:
        """Every record of ``kind`` in id order, with its ``mod_revision``."""
        for kv in self.client.scan(self.namespace + kind.prefix):
            yield kind.decode(kv.value), kv.mod_revision

    def list(self, kind: Kind[D]) -> list[D]:
        return [obj for obj, _ in self.records(kind)]

    def collect(self, kind: Kind[D], now: datetime) -> int:
        """Delete every record of ``kind`` that expired before ``now``, unless it changed since
        it was read (then it is left for the next run); returns how many were deleted."""
        deleted = 0
        for obj, revision in self.records(kind):
            expiry = kind.expiry(obj)
            if expiry is None or expiry >= now:
                continue
            path = self.path(kind, kind.key(obj))
            done, _ = self.client.txn(
                [ec.mod_revision_is(path, revision)], self._deletes(kind, obj)
            )
            deleted += done
        return deleted
