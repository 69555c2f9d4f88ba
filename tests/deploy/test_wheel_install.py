"""The image's install steps without a Docker engine (issue 14, item 4): build the wheel from
exactly what the Dockerfile's builder stage copies, install it into a fresh venv outside the
repository, and serve from that venv in another working directory, as ``nobody``, with every
filesystem read-only but a data folder and TMPDIR (the image's volume and /tmp), as in a
container with a read-only root filesystem (a private mount namespace when the tests run as
root; otherwise file permissions only). Discovery, pages rendered from the templates, the
stylesheet and the database migrations must all come out of the wheel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.deploy.dockerfile import REPO_ROOT, read_stages
from tests.processes import stop_group, wait_until_ok
from tests.services import free_port

pytestmark = [pytest.mark.slow, pytest.mark.live, pytest.mark.xdist_group("deploy_wheel")]

NOBODY = 65534
RESOURCE_DIRS = ("templates", "static", "migrations")
DATA_PREFIX = "dex_py-{version}.data/data/share/dex-py/"


def _resource_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *RESOURCE_DIRS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if "__pycache__" not in line]


def _interpreter() -> tuple[str, bool]:
    """The Python for the venv, and whether the server can run as ``nobody`` with it: as root,
    a system Python 3.11+ (one under /root, like pyenv's, is not reachable for ``nobody``)."""
    if os.geteuid() != 0:
        return sys.executable, False
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if version == "True":
            return candidate, True
    return sys.executable, False


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Path]:
    """A folder outside the repository that an unprivileged user can traverse (pytest's own
    temporary folders are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="dexpy-wheel-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(sandbox: Path) -> Path:
    """The dex-py wheel, built from a copy of the builder stage's COPY sources only."""
    _, stages = read_stages()
    builder = stages[0]
    source = sandbox / "src"
    source.mkdir()
    for item in builder.copy_sources():
        origin = REPO_ROOT / item.rstrip("/")
        if origin.is_dir():
            shutil.copytree(
                origin, source / origin.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(origin, source / origin.name)
    wheels = sandbox / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            ".",
        ],
        cwd=source,
        check=True,
        timeout=300,
    )
    (built,) = wheels.glob("dex_py-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(sandbox: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel (and its dependencies) installed, nothing else."""
    path = sandbox / "venv"
    subprocess.run([_interpreter()[0], "-m", "venv", str(path)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [str(path / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        cwd=sandbox,
        env=env,
        check=True,
        timeout=600,
    )
    return path


def test_the_wheel_carries_every_template_static_file_and_migration(wheel: Path) -> None:
    version = wheel.name.split("-")[1]
    prefix = DATA_PREFIX.format(version=version)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = _resource_files()
    assert {"templates/login.html", "static/main.css", "migrations/env.py"} <= set(expected)
    missing = [f for f in expected if prefix + f not in names]
    assert not missing, f"not in the wheel (pyproject.toml's data-files): {missing}"
    assert any(n.startswith("connectors/") for n in names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def _serve_config(sandbox: Path, port: int, data: Path) -> Path:
    """The image's own config (deploy/docker/config.yaml), its issuer and file moved here."""
    config: dict[str, Any] = yaml.safe_load((REPO_ROOT / "deploy/docker/config.yaml").read_text())
    config["issuer"] = f"http://127.0.0.1:{port}/dex"
    config["storage"]["config"]["file"] = str(data / "dex.db")
    config["server"] = {"shutdownDelay": "0s", "workers": 1}
    path = sandbox / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o644)
    return path


# Run in a private mount namespace: every mount but the kernel's read-only, a tmpfs on TMPDIR
# (Kubernetes: an emptyDir on /tmp) and the data folder writable (the image's volume), then drop
# to nobody. The root check proves the confinement holds before the server starts.
_READ_ONLY_ROOT = r"""
set -eu
mount --make-rprivate /
for mountpoint in $(awk '{print $2}' /proc/self/mounts | sort -u); do
  case "$mountpoint" in /proc*|/sys*|/dev*|/mnt*) continue ;; esac
  mount -o remount,bind,ro "$mountpoint"
done
mount -t tmpfs -o mode=1777,size=64m tmpfs "$TMPDIR"
mount --bind "$DEXPY_DATA" "$DEXPY_DATA"
mount -o remount,bind,rw "$DEXPY_DATA"
if touch /usr/.dexpy-probe 2>/dev/null || touch "$HOME/.dexpy-probe" 2>/dev/null; then
  echo "the root filesystem is still writable" >&2
  exit 97
fi
exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
"""


def _read_only_root_available() -> bool:
    """Root, with ``unshare`` and ``setpriv`` that may make a mount namespace here."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def test_serve_from_the_installed_wheel(sandbox: Path, venv: Path) -> None:
    as_root = _interpreter()[1]  # then the server runs as nobody
    work = sandbox / "work"  # the working directory: not writable by the server's user
    data = sandbox / "data"  # the image's /var/dex
    tmp = sandbox / "tmp"  # the image's /tmp
    for folder in (work, data, tmp):
        folder.mkdir()
    work.chmod(0o755)
    if as_root:
        for folder in (data, tmp):
            os.chown(folder, NOBODY, NOBODY)
    port, telemetry = free_port(), free_port()
    config = _serve_config(sandbox, port, data)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    read_only_root = as_root and _read_only_root_available()
    command = [
        str(venv / "bin/dex-py"),
        "serve",
        str(config),
        "--web-http-addr",
        f"127.0.0.1:{port}",
        "--telemetry-addr",
        f"127.0.0.1:{telemetry}",
    ]
    if read_only_root:  # the container's read-only root filesystem, for real
        command = ["unshare", "-m", "sh", "-c", _READ_ONLY_ROOT, "confine", *command]
        env["DEXPY_DATA"] = str(data)
    where = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import dex_py.resources as r; print(r.__file__); print(r.resource_dir('templates'))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the repository's

    log = sandbox / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **(
                {"user": NOBODY, "group": NOBODY, "extra_groups": []}
                if as_root and not read_only_root
                else {}
            ),
        )
    try:
        issuer = f"http://127.0.0.1:{port}/dex"
        ready = f"http://127.0.0.1:{telemetry}/healthz/ready"
        wait_until_ok([ready, issuer + "/.well-known/openid-configuration"], process, log)
        assert requests.get(f"http://127.0.0.1:{telemetry}/healthz/live", timeout=5).ok

        discovery = requests.get(issuer + "/.well-known/openid-configuration", timeout=5)
        assert discovery.status_code == 200 and discovery.json()["issuer"] == issuer

        landing = requests.get(issuer, timeout=5)
        assert landing.status_code == 200
        assert "This is an OpenID Connect issuer." in landing.text

        login = requests.get(
            issuer + "/auth",
            params={
                "client_id": "example-app",
                "redirect_uri": "http://127.0.0.1:5555/callback",
                "response_type": "code",
                "scope": "openid",
            },
            timeout=5,
        )
        assert login.status_code == 200, login.text[:500]
        assert "Log in with Example" in login.text
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', login.text)
        assert stylesheet, login.text[:500]
        css = requests.get(requests.compat.urljoin(login.url, stylesheet[1]), timeout=5)
        assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]

        assert (data / "dex.db").is_file()  # created, and migrated from the wheel's scripts
        assert list(work.iterdir()) == []  # nothing written beside the volume and TMPDIR
    finally:
        stop_group(process)
    assert process.returncode == 0, log.read_text()[-3000:]
