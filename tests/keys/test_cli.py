"""``dex-py keys rotate`` and ``dex-py keys list`` against a SQLite file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dex_py.cli import main
from dex_py.config import StorageConfig
from dex_py.storage import open_storage


@pytest.fixture
def config_file(tmp_path):
    db = tmp_path / "dex.db"
    path = tmp_path / "config.yaml"
    path.write_text(
        "issuer: http://127.0.0.1:5556/dex\n"
        f"storage:\n  type: sqlite3\n  config:\n    file: {db}\n"
        "web:\n  http: 127.0.0.1:5556\n"
        "signing:\n  algorithm: ES256\n"
        "expiry:\n  signingKeys: 6h\n  idTokens: 1h\n"
    )
    return path, db


def _row(db):
    storage = open_storage(StorageConfig(type="sqlite3", config={"file": str(db)}))
    try:
        return storage.get_keys()
    finally:
        storage.close()


def test_rotate_then_list(config_file) -> None:
    path, db = config_file
    runner = CliRunner()

    empty = runner.invoke(main, ["keys", "list", str(path)])
    assert empty.exit_code == 0, empty.output
    assert "no signing keys yet" in empty.output

    created = runner.invoke(main, ["keys", "rotate", str(path)])
    assert created.exit_code == 0, created.output
    first = json.loads(_row(db).signing_key)["kid"]
    assert f"created signing key {first}" in created.output

    rotated = runner.invoke(main, ["keys", "rotate", str(path)])
    assert rotated.exit_code == 0, rotated.output
    row = _row(db)
    second = json.loads(row.signing_key)["kid"]
    assert second != first
    assert f"rotated: signing key {second} (retired {first})" in rotated.output
    assert json.loads(row.signing_key)["alg"] == "ES256"
    assert [json.loads(vk.jwk)["kid"] for vk in row.verification_keys] == [first]

    listed = runner.invoke(main, ["keys", "list", str(path)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["KID", "ALG", "STATUS", "EXPIRY"]
    assert lines[1].split()[:3] == [second, "ES256", "signing"]
    assert lines[2].split()[:3] == [first, "ES256", "retired"]
    assert lines[2].split()[3] == row.verification_keys[0].expiry.isoformat(timespec="seconds")
    assert '"d"' not in listed.output


def test_memory_storage_is_refused(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "issuer: http://127.0.0.1:5556/dex\n"
        "web:\n  http: 127.0.0.1:5556\n"
        "storage:\n  type: memory\n"
    )
    result = CliRunner().invoke(main, ["keys", "rotate", str(path)])
    assert result.exit_code == 1
    assert "storage type is memory" in result.output
