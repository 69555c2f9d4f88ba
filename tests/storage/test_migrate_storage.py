"""``dex-py migrate-storage`` copies what lasts, SQLite -> etcd -> PostgreSQL, every object
arriving equal; running it again changes nothing; bad targets fail in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from dex_py.cli import main
from dex_py.config import StorageConfig
from dex_py.storage import open_storage
from dex_py.storage.base import NotFoundError, Storage
from dex_py.storage.records import TEAM_RULES_SETTING
from tests.services import free_port
from tests.storage import factories as f
from tests.storage.conftest import Namespaces

pytestmark = [pytest.mark.etcd, pytest.mark.postgres]


def _config_file(tmp: Path, name: str, storage: StorageConfig) -> str:
    path = tmp / f"{name}.yaml"
    doc = {
        "issuer": "http://127.0.0.1:5556/dex",
        "storage": {"type": storage.type, "config": storage.config},
        "web": {"http": "127.0.0.1:5556"},
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["migrate-storage", *args])


def _everything(storage: Storage) -> dict[str, Any]:
    return {
        "clients": storage.list_clients(),
        "passwords": storage.list_passwords(),
        "connectors": storage.list_connectors(),
        "sessions": storage.list_sessions(),
        "refresh_tokens": storage.list_refresh_tokens(),
        "mfa_states": storage.list_mfa_states(),
        "keys": storage.get_keys(),
        "team_rules": storage.get_setting(TEAM_RULES_SETTING)[0],
    }


def _fill(storage: Storage) -> None:
    storage.create_client(f.client(id="app-1"))
    storage.create_client(f.client(id="app-2", public=True, secret_hash=""))
    storage.create_password(f.password(email="ann@example.com"))
    storage.create_password(f.password(email="bob@example.com", user_id="u-bob"))
    storage.create_connector(f.connector(id="ldap"))
    storage.create_session(f.session(id="sess-1"))
    storage.create_refresh_token(f.refresh_token(id="rt-1", session_id="sess-1"))
    storage.create_refresh_token(f.refresh_token(id="rt-2", expiry=None))
    storage.create_mfa_state(f.mfa_state())
    storage.update_keys(lambda old: f.keys())
    storage.create_auth_code(f.auth_code(id="code-in-flight"))
    storage.put_setting(TEAM_RULES_SETTING, [{"groups": ["ops"], "teams": ["operators"]}], 0)


def test_sqlite_to_etcd_to_postgres(tmp_path: Path, namespaces: Namespaces) -> None:
    sqlite_cfg = namespaces.create("sqlite")
    etcd_cfg = namespaces.create("etcd")
    pg_cfg = namespaces.create("postgres")  # empty schema: migrate-storage creates the tables
    source = open_storage(sqlite_cfg)
    _fill(source)
    expected = _everything(source)
    assert all(expected.values())

    sqlite_file = _config_file(tmp_path, "sqlite", sqlite_cfg)
    etcd_file = _config_file(tmp_path, "etcd", etcd_cfg)
    pg_file = _config_file(tmp_path, "pg", pg_cfg)
    first = _run(sqlite_file, etcd_file)
    assert first.exit_code == 0, first.output
    assert "client: 2 created, 0 updated, 0 unchanged" in first.output
    second = _run(etcd_file, pg_file)
    assert second.exit_code == 0, second.output
    assert "refresh_token: 2 created" in second.output and "keys: 1 created" in second.output

    for cfg in (etcd_cfg, pg_cfg):
        target = open_storage(cfg, migrate=False)
        assert _everything(target) == expected
        assert target.generation() == 1  # running servers on the target notice the copy
        with pytest.raises(NotFoundError):  # logins in flight are not carried over
            target.get_auth_code("code-in-flight")
        target.close()

    again = _run(etcd_file, pg_file)  # idempotent
    assert again.exit_code == 0, again.output
    assert " created" not in again.output.replace("0 created", "")
    assert "client: 0 created, 0 updated, 2 unchanged" in again.output

    source.update_client("app-1", lambda c: replace(c, name="renamed"))
    expected = _everything(source)
    source.close()
    assert _run(sqlite_file, etcd_file).exit_code == 0
    catch_up = _run(etcd_file, pg_file)
    assert "client: 0 created, 1 updated, 1 unchanged" in catch_up.output
    target = open_storage(pg_cfg, migrate=False)
    assert _everything(target) == expected
    target.close()


def test_bad_storages_fail_in_one_line(tmp_path: Path, namespaces: Namespaces) -> None:
    never_migrated = _config_file(tmp_path, "empty", namespaces.create("sqlite"))
    result = _run(never_migrated, _config_file(tmp_path, "etcd", namespaces.create("etcd")))
    assert result.exit_code == 1
    assert "no such table" in result.output and "Traceback" not in result.output

    sqlite_cfg = namespaces.create("sqlite")
    open_storage(sqlite_cfg).close()
    sqlite_file = _config_file(tmp_path, "sqlite", sqlite_cfg)
    memory = _config_file(tmp_path, "memory", StorageConfig("memory", {}))
    result = _run(sqlite_file, memory)
    assert result.exit_code == 1
    assert "memory lives inside one server process" in result.output

    down = StorageConfig("etcd", {"endpoints": [f"http://127.0.0.1:{free_port()}"]})
    result = _run(sqlite_file, _config_file(tmp_path, "down", down))
    assert result.exit_code == 1
    assert "no etcd endpoint reachable" in result.output
    assert "Traceback" not in result.output

    assert _run(sqlite_file, sqlite_file).exit_code == 1
