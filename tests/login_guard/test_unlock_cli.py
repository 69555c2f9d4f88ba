"""``dex-py users unlock``: an admin lifts an account's locks at every address, in the real
SQLite database the server uses."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dex_py.cli import main
from dex_py.clock import Clock
from dex_py.config import StorageConfig
from dex_py.config.brute_force import BruteForcePolicy
from dex_py.login_guard import LoginGuard
from dex_py.storage import open_storage


def test_unlock(tmp_path: Path) -> None:
    db = tmp_path / "dex.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"issuer: http://127.0.0.1:5556/dex\nstorage: {{type: sqlite3, config: {{file: {db}}}}}\n"
        "web: {http: 127.0.0.1:5556}\nenablePasswordDB: true\n"
    )
    storage = open_storage(StorageConfig(type="sqlite3", config={"file": str(db)}))
    guard = LoginGuard(storage, Clock(), BruteForcePolicy())
    for address in ("203.0.113.1", "203.0.113.2"):
        for _ in range(5):
            guard.failed("local", "alice", address)
        assert not guard.admit("local", "alice", address).allowed
    result = CliRunner().invoke(
        main, ["users", "unlock", str(config), "--connector", "local", "--username", "Alice"]
    )
    assert result.exit_code == 0, result.output
    assert "unlocked Alice on local (5 count(s) removed)" in result.output
    assert guard.admit("local", "alice", "203.0.113.1").allowed
    assert guard.admit("local", "alice", "203.0.113.2").allowed
    storage.close()
