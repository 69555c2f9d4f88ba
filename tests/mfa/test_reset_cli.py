"""``dex-py users reset-mfa``: an admin removes a user's second factors (and their lock) in the
real SQLite database the server uses, by email of the password database or by sub."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dex_py.cli import main
from dex_py.clock import Clock
from dex_py.config import StorageConfig
from dex_py.config.brute_force import BruteForcePolicy
from dex_py.login_guard import SecondFactorGuard
from dex_py.second_factor import user_key_of
from dex_py.storage import open_storage
from dex_py.storage.base import MFAState, NotFoundError

ADMIN_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"


@pytest.mark.parametrize("how", ["email", "sub", "connector"])
def test_reset_mfa(tmp_path: Path, how: str) -> None:
    db = tmp_path / "dex.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"issuer: http://127.0.0.1:5556/dex\nstorage: {{type: sqlite3, config: {{file: {db}}}}}\n"
        "web: {http: 127.0.0.1:5556}\nenablePasswordDB: true\n"
        f"staticPasswords: [{{email: admin@example.com, hash: '{ADMIN_HASH}', "
        "username: admin, userID: u-1}]\n"
    )
    storage = open_storage(StorageConfig(type="sqlite3", config={"file": str(db)}))
    key = user_key_of("u-1", "local")
    storage.create_mfa_state(MFAState(id=key, totp_secret="A" * 32, totp_confirmed=True))
    guard = SecondFactorGuard(storage, Clock(), BruteForcePolicy())
    for _ in range(5):
        guard.failed(key)
    assert not guard.admit(key)
    args = {
        "email": ["Admin@example.com"],
        "sub": [key],
        "connector": ["u-1", "--connector", "local"],
    }[how]
    result = CliRunner().invoke(main, ["users", "reset-mfa", str(config), *args])
    assert result.exit_code == 0, result.output
    with pytest.raises(NotFoundError):
        storage.get_mfa_state(key)
    assert guard.admit(key)
    again = CliRunner().invoke(main, ["users", "reset-mfa", str(config), *args])
    assert again.exit_code == 1 and "no second factor stored" in again.output
    unknown = CliRunner().invoke(main, ["users", "reset-mfa", str(config), "nobody@example.com"])
    assert unknown.exit_code == 1 and "no user with email" in unknown.output
    storage.close()
