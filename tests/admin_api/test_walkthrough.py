"""``docs/admin-api.md`` run as written: its shell blocks, one after the other in one bash, against
the server ``make run`` starts (``config.example.yaml``, three workers), then the state they
leave read back from that server's storage. Its YAML block is a config the loader accepts
without a warning."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from dex_py.clients import check_secret
from dex_py.config import StorageConfig
from dex_py.config.loader import from_dict
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from tests.live import REPO_ROOT, LiveServer, example_config_server
from tests.services import missing_service

pytestmark = pytest.mark.live

DOC = REPO_ROOT / "docs" / "admin-api.md"


def fenced_blocks(language: str) -> list[str]:
    text = DOC.read_text()
    return [
        m[2] for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S) if m[1] == language
    ]


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with example_config_server(3) as live:
        yield live


@pytest.fixture
def storage(server: LiveServer) -> Iterator[Storage]:
    section = server.config["storage"]
    s = open_storage(StorageConfig(type=section["type"], config=section["config"]))
    yield s
    s.close()  # type: ignore[attr-defined]


def test_the_yaml_block_is_a_config_the_loader_takes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (block,) = fenced_blocks("yaml")
    data = yaml.safe_load(block)
    monkeypatch.setenv("AUTOMATION_SECRET", "set-by-the-test")
    data |= {
        "issuer": "https://dex.example.com",
        "storage": {"type": "sqlite3", "config": {"file": str(tmp_path / "dex.db")}},
        "web": {"http": "127.0.0.1:5556"},
    }
    assert from_dict(data, source="docs/admin-api.md").warnings == []


def test_the_walkthrough_runs_as_written(
    server: LiveServer, storage: Storage, tmp_path: Path
) -> None:
    for tool in ("curl", "jq"):
        if not shutil.which(tool):
            missing_service(tool, "the walk-through's shell blocks use it")
    script = "set -euo pipefail\n" + "\n".join(fenced_blocks("sh"))
    run = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ISSUER": server.issuer, "HOME": "/tmp"},
    )
    assert run.returncode == 0, run.stderr + run.stdout
    out = run.stdout.splitlines()

    created = json.loads(out[0])
    assert created["id"] == "billing" and created["secret_length"] >= 32
    assert out[1] == "Billing (production)"
    assert int(out[2]) >= 32  # the rotated secret
    assert out[3] == "jane@example.com"
    assert out[4] == '["billing-admins"]'  # no team rules: groups pass through
    assert out[5] == '["logout_deliveries","refresh_tokens","sessions"]'
    actions = out[6:16]
    assert actions[:5] == [
        "session.revoke_user",
        "user.create",
        "client.rotate_secret",
        "client.update",
        "client.create",
    ], actions
    exported = [json.loads(line) for line in out[-4:-1]]
    assert all(entry["actor"] == "api:automation" for entry in exported)
    problem = json.loads(out[-1])
    assert problem["status"] == 401

    # what the walk-through left in storage
    billing = storage.get_client("billing")
    assert billing.name == "Billing (production)"
    # the first secret still works during the hour of grace the rotation gave it
    first_secret = json.loads((tmp_path / "billing.json").read_text())["secret"]
    now = datetime.now(UTC)
    assert check_secret(billing, first_secret, now=now)
    assert not check_secret(billing, first_secret, now=now + timedelta(hours=1, minutes=1))
    assert storage.get_password("jane@example.com").groups == ("billing-admins",)
