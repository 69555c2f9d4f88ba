"""The real upstream OpenID provider of the ``oidc`` connector tests: starts and stops the
node app in ``oidc_upstream/`` (``server.mjs``: panva's oidc-provider from the npm registry,
version range in ``oidc_upstream/package.json``).

``install()`` runs ``npm install`` once into a cache directory (``DEXPY_OIDC_UPSTREAM_NODE_DIR``,
default ``/tmp/dexpy-oidc-upstream-node``) and again only when ``package.json`` changes; a file
lock keeps parallel test workers from installing at the same time. ``OIDCUpstream.start()``
runs node on 127.0.0.1, waits until the OpenID discovery document answers (OpenID Connect
Discovery 1.0 section 4) and ``stop()`` ends exactly that process by its pid.

Standard library only, so ``.ci/run`` can call ``python3 tests/services/oidc_upstream.py
install`` before the test virtualenv exists.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

APP_DIR = Path(__file__).with_suffix("")
NODE_DIR = Path(os.environ.get("DEXPY_OIDC_UPSTREAM_NODE_DIR", "/tmp/dexpy-oidc-upstream-node"))
MIN_NODE = (20, 19)  # oidc-provider 9's "engines"
CLIENT_ID = "idp-connector"
CLIENT_SECRET = "connector-secret"
PUBLIC_CLIENT_ID = "public-pkce"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class UpstreamError(RuntimeError):
    """The provider could not be installed or started (the message says why)."""


def _node_version() -> tuple[int, int]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise UpstreamError("node and npm are required")
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    major, minor, *_ = out.stdout.strip().lstrip("v").split(".")
    return int(major), int(minor)


def install() -> Path:
    """Install the app's npm dependencies into ``NODE_DIR`` (once); return the server script."""
    version = _node_version()
    if version < MIN_NODE:
        raise UpstreamError(f"Node.js >= {MIN_NODE[0]}.{MIN_NODE[1]} required, have {version}")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NODE_DIR / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = (APP_DIR / "package.json").read_bytes()
        installed = NODE_DIR / "package.json"
        have_manifest = installed.is_file() and installed.read_bytes() == manifest
        if not have_manifest or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
            installed.write_bytes(manifest)
            run = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if run.returncode != 0:
                installed.unlink(missing_ok=True)
                raise UpstreamError(f"npm install failed: {run.stderr[-1500:]}")
        # Node resolves `import 'oidc-provider'` next to the script, so it runs from NODE_DIR.
        script = NODE_DIR / "server.mjs"
        source = (APP_DIR / "server.mjs").read_bytes()
        if not script.is_file() or script.read_bytes() != source:
            partial = NODE_DIR / "server.mjs.partial"
            partial.write_bytes(source)
            partial.replace(script)
        return script


def _discovery_answers(issuer: str) -> bool:
    url = issuer + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class OIDCUpstream:
    """One provider on ``127.0.0.1:port``; its request log is written to ``log_path``."""

    port: int
    redirect_uris: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it (install first if needed) and wait until discovery answers."""
        if self.process is not None:
            raise UpstreamError("already running")
        script = install()
        env = {
            **os.environ,
            "OIDC_UPSTREAM_PORT": str(self.port),
            "OIDC_UPSTREAM_REDIRECT_URIS": ",".join(self.redirect_uris),
            "OIDC_UPSTREAM_CLIENT_ID": CLIENT_ID,
            "OIDC_UPSTREAM_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_UPSTREAM_PUBLIC_CLIENT_ID": PUBLIC_CLIENT_ID,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["node", str(script)],
                cwd=NODE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _discovery_answers(self.issuer):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise UpstreamError(f"did not start on {self.issuer}: {self.log_text()[-1500:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """End the node process this object started (TERM, then KILL) and reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """A new provider on the same port: no sessions or tokens, new signing keys."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def count_log(self, needle: str) -> int:
        """How many request log lines contain ``needle`` (e.g. ``"POST /token -> 200"``)."""
        return sum(needle in line for line in self.log_text().splitlines())


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print("usage: oidc_upstream.py install", file=sys.stderr)
        return 2
    try:
        install()
    except UpstreamError as err:
        print(f"oidc-upstream: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
