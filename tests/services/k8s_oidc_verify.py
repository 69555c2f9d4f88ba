"""Builds ``k8s-oidc-verify`` (the Go program in ``k8s_oidc_verify/main.go``): the ID-token
check of kube-apiserver's ``--oidc-*`` flags, done by the same library (coreos/go-oidc), which
``tests/kube_cli``'s fake API server runs for every bearer token.

The build uses Debian's Go toolchain and packaged go-oidc sources in GOPATH mode, so nothing is
downloaded from the Go module proxy. When they are missing and we run as root (CI), they are
installed with apt first. The binary lands in a cache directory named after the source's hash,
so it is built once per change of ``main.go``; a lock keeps parallel test workers from building
at the same time.

Command line (used by ``.ci/run``; standard library only, so any python3 will do):
``python3 tests/services/k8s_oidc_verify.py`` builds and prints the binary's path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_suffix("") / "main.go"
GOPATH = Path("/usr/share/gocode")
GO_OIDC = GOPATH / "src" / "github.com" / "coreos" / "go-oidc"
DEBIAN_PACKAGES = ("golang-go", "golang-github-coreos-go-oidc-dev")
CACHE_DIR = Path(os.environ.get("DEXPY_K8S_OIDC_VERIFY_DIR", "/tmp/dexpy-k8s-oidc-verify"))


class BuildError(RuntimeError):
    """The verifier could not be built (message says why)."""


def _toolchain_present() -> bool:
    return shutil.which("go") is not None and GO_OIDC.is_dir()


def _install_toolchain() -> None:
    if _toolchain_present():
        return
    if os.geteuid() != 0:
        raise BuildError(f"need the Debian packages {' '.join(DEBIAN_PACKAGES)} (install as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", *DEBIAN_PACKAGES]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        run = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise BuildError(f"apt-get install failed: {run.stderr[-1500:]}")


def binary_path() -> Path:
    """Where the binary built from the current ``main.go`` lives."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    return CACHE_DIR / digest / "k8s-oidc-verify"


def build() -> Path:
    """Build the verifier unless this source's binary exists; return its path."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = binary_path()
        if target.is_file() and os.access(target, os.X_OK):
            return target
        _install_toolchain()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        env = {
            **os.environ,
            "GO111MODULE": "off",
            "GOPATH": str(GOPATH),
            "GOCACHE": str(CACHE_DIR / "gocache"),
            "GOFLAGS": "",
        }
        run = subprocess.run(
            ["go", "build", "-o", str(partial), SOURCE.name],
            cwd=SOURCE.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if run.returncode != 0:
            raise BuildError(f"go build failed: {run.stderr[-2000:]}")
        partial.replace(target)
        return target


def main() -> int:
    try:
        print(build())
    except BuildError as err:
        print(f"k8s-oidc-verify: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
