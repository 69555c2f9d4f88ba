"""Runtime-managed objects in etcd (issue 12): the change counter and the settings, for
``storage.etcd.EtcdStorage``.

The counter is the key ``<namespace>generation`` holding a decimal number; a bump reads it and
writes the next number only if the key's ``mod_revision`` is unchanged (compare-and-swap),
reading again after a lost race, so concurrent bumps from any process are all counted. A setting
is ``<namespace>settings/<key>`` holding ``{"value": ..., "version": n}``; ``put_setting``
checks the version read, then writes under the same compare-and-swap, so a stale writer changes
nothing and gets ``ConflictError``.
"""

from __future__ import annotations

import json
from typing import Any

from dex_py.storage import etcd_client as ec
from dex_py.storage.etcd_table import Tables
from dex_py.storage.records import ConflictError

GENERATION = "generation"
SETTINGS = "settings/"


class EtcdRuntimeObjects:
    """``generation``, ``bump_generation``, ``get_setting``, ``put_setting`` over ``t``."""

    t: Tables

    def _generation_path(self) -> str:
        return self.t.namespace + GENERATION

    def generation(self) -> int:
        kv = self.t.client.get(self._generation_path())
        return 0 if kv is None else int(kv.value)

    def bump_generation(self) -> int:
        path = self._generation_path()
        with self.t.serialised(path):
            kv = self.t.client.get(path)
            while True:
                new = (0 if kv is None else int(kv.value)) + 1
                revision = 0 if kv is None else kv.mod_revision
                done, answer = self.t.client.txn(
                    [ec.mod_revision_is(path, revision)],
                    [ec.op_put(path, str(new).encode())],
                    [ec.op_get(path)],
                )
                if done:
                    return new
                kvs = ec.range_kvs(answer[0])
                kv = kvs[0] if kvs else None

    def _read_setting(self, key: str) -> tuple[Any, int, int]:
        """(value, version, mod_revision) of a setting; (None, 0, 0) when never written."""
        kv = self.t.client.get(self.t.namespace + SETTINGS + key)
        if kv is None:
            return None, 0, 0
        data = json.loads(kv.value)
        return data["value"], int(data["version"]), kv.mod_revision

    def get_setting(self, key: str) -> tuple[Any, int]:
        value, version, _ = self._read_setting(key)
        return value, version

    def put_setting(self, key: str, value: Any, expected_version: int) -> int:
        path = self.t.namespace + SETTINGS + key
        stale = ConflictError(f"setting {key!r} changed since version {expected_version}")
        _, version, revision = self._read_setting(key)
        if version != expected_version:
            raise stale
        text = json.dumps({"value": value, "version": version + 1}, separators=(",", ":"))
        done, _ = self.t.client.txn(
            [ec.mod_revision_is(path, revision)], [ec.op_put(path, text.encode())]
        )
        if not done:
            raise stale
        return version + 1
