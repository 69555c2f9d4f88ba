"""kubectl runs the plugin before every command: with a fresh token in the cache, ``dex-py kube
login`` must answer without importing the server stack (or click, config, the network modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kube_cli.helpers import exec_credential, password_args, plugin_env, run_login

pytestmark = [pytest.mark.live]
SERVER_STACK = ("flask", "sqlalchemy", "granian", "gunicorn", "werkzeug", "authlib", "alembic")
NOT_ON_THE_HOT_PATH = (
    *SERVER_STACK,
    "click",
    "yaml",
    "jsonschema",
    "dex_py.cli",
    "dex_py.config",
    "dex_py.kubelogin.oidc",
    "ssl",
    "urllib.request",
    "http.server",
    "shutil",
    "dataclasses",
)
# Runs the console script's entry function with argv, then writes the loaded modules to the
# file descriptor named by the first argument.
WRAPPER = """
import os, sys
fd, entry, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def report():
    os.write(fd, "\\n".join(sorted(sys.modules)).encode())
import atexit
atexit.register(report)
sys.argv = ["dex-py", *argv]
if entry == "entry":
    from dex_py.entry import main
    main()
else:
    from dex_py.cli import main
    main()
"""


def _modules(entry: str, args: list[str], env: dict[str, str]) -> tuple[set[str], str]:
    read, write = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(write), entry, *args[1:]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        pass_fds=(write,),
        text=True,
    )
    os.close(write)
    out, err = proc.communicate(timeout=60)
    with open(read, "rb") as pipe:
        modules = set(pipe.read().decode().split())
    assert proc.returncode == 0, err
    return modules, out


def _hot(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules for bad in NOT_ON_THE_HOT_PATH if m == bad or m.startswith(bad + ".")
    )


def test_the_cached_path_imports_no_server_stack(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    args = password_args(server, tmp_path / "cache")
    env = plugin_env(tmp_path)
    token = exec_credential(run_login(args, env))["status"]["token"]  # fills the cache
    server.stop()  # the cached path needs no server

    modules, out = _modules("entry", args, env)
    assert json.loads(out)["status"]["token"] == token
    assert "dex_py.kubelogin.cache" in modules
    assert _hot(modules) == []

    # The check sees imports: through the click CLI the same command loads click and config.
    via_click, out = _modules("click", args, env)
    assert json.loads(out)["status"]["token"] == token
    assert {"click", "dex_py.cli", "yaml"} <= set(_hot(via_click))
