"""Real servers for the auth proxy's end-to-end tests and its benchmark, started in the
foreground from config files in a temporary directory and stopped by pid: ``Daemon`` (any
command), and the front servers nginx, Caddy and Apache (``start_nginx``, ``start_caddy``,
``start_apache``) with ``start_proxy`` for ``dex-py proxy`` itself.

Nothing here uses the system services: apt is told not to start them (``.ci/run`` writes a
``policy-rc.d``), and every server here listens on 127.0.0.1 on a port the caller chose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.services import missing_service, port_open

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
CADDY = Path("/usr/bin/caddy")
APACHE = Path("/usr/sbin/apache2")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class DaemonFailed(RuntimeError):
    """A server exited or did not answer in time; the message holds its log's tail."""


class Daemon:
    """A foreground server process in its own process group, its output in ``log_path``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            list(command),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_port(self, port: int, timeout: float = START_TIMEOUT) -> None:
        """Wait until something accepts on 127.0.0.1:``port``; DaemonFailed otherwise."""
        self._wait(lambda: port_open("127.0.0.1", port, 0.2), f"listening on {port}", timeout)

    def wait_http(self, url: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``url`` answers 200; DaemonFailed otherwise."""

        def answers() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(url, timeout=2).status_code == 200
            return False

        self._wait(answers, f"200 at {url}", timeout)

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DaemonFailed(
                    f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise DaemonFailed(f"{self.name}: not {what} after {timeout:.0f}s:\n{self.log_tail()}")

    def group_pids(self) -> list[int]:
        """The pids of the process group (the master and its workers), for CPU accounting."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[2]) == self.pid:  # field 5: process group id
                        pids.append(int(entry))
        return pids

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left. Safe to call twice."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        self._signal(signal.SIGKILL)
        self._log.close()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


def require_binary(name: str, path: Path) -> None:
    if not path.exists():
        missing_service(name, f"{path} is not installed (apt-get install {name})")


# --- nginx ---------------------------------------------------------------------------------------

NGINX_MAIN = """
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log %(log_level)s;
%(user)s
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  large_client_header_buffers 4 16k;
  keepalive_requests 1000000;
  %(http)s
}
"""


def start_nginx(workdir: Path, http_block: str, port: int, *, workers: int = 1) -> Daemon:
    """nginx (master in the foreground) with ``http_block`` inside ``http { }``; waits until
    ``port`` accepts."""
    require_binary("nginx", NGINX)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    # As root, nginx's workers switch to "nobody", who cannot read a private tmp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_MAIN
        % {
            "dir": workdir,
            "workers": workers,
            "user": user,
            "http": http_block,
            "log_level": "warn",
        }
    )
    daemon = Daemon(
        "nginx",
        [
            str(NGINX),
            "-p",
            str(workdir),
            "-c",
            str(conf),
            "-e",
            str(workdir / "error.log"),
            "-g",
            "daemon off;",
        ],
        workdir,
    )
    daemon.wait_port(port)
    return daemon


def nginx_forward_auth_server(port: int, proxy_port: int, app_port: int) -> str:
    """A ``server { }`` in the shape ingress-nginx writes for the annotations
    ``auth-url: http://<proxy>/oauth2/auth``, ``auth-signin: /oauth2/start?rd=...`` and
    ``auth-response-headers: X-Auth-Request-User, ...``: ``auth_request`` on every location,
    the identity headers copied from the auth answer (and only from there: a header of the same
    name from the client is replaced, or dropped when the answer has none), the session cookie
    the auth answer may refresh passed back, 401 -> the sign-in redirect; ``/oauth2/`` itself
    goes to the proxy."""
    identity = "\n".join(
        f"    auth_request_set ${var} $upstream_http_x_auth_request_{var};\n"
        f"    proxy_set_header X-Auth-Request-{name} ${var};"
        for var, name in (
            ("user", "User"),
            ("email", "Email"),
            ("groups", "Groups"),
            ("preferred_username", "Preferred-Username"),
        )
    )
    return f"""
  upstream dexpy_proxy {{ server 127.0.0.1:{proxy_port}; keepalive 64; }}
  upstream app {{ server 127.0.0.1:{app_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location /oauth2/ {{
      proxy_pass http://dexpy_proxy;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }}
    location = /oauth2/auth {{
      internal;
      proxy_pass http://dexpy_proxy;
      proxy_http_version 1.1;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
    location @dexpy_signin {{
      return 302 $scheme://$http_host/oauth2/start?rd=$scheme://$http_host$request_uri;
    }}
    location / {{
      auth_request /oauth2/auth;
      error_page 401 = @dexpy_signin;
{identity}
    auth_request_set $dexpy_cookie $upstream_http_set_cookie;
    add_header Set-Cookie $dexpy_cookie;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
"""


# --- Caddy ---------------------------------------------------------------------------------------

IDENTITY_NAMES = (
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Preferred-Username",
)


def caddyfile_forward_auth(port: int, proxy_port: int, app_port: int) -> str:
    """A Caddyfile: ``/oauth2/*`` to the proxy, everything else behind ``forward_auth`` with
    ``copy_headers`` (a 401 turns into the sign-in redirect).

    In a ``route``, so that it runs in this order (Caddy's default order puts
    ``request_header`` after ``forward_auth``): identity headers from the client are deleted
    (Caddy releases that skip a header the auth answer lacks would pass the client's on),
    ``forward_auth`` copies the proxy's, and a header the auth answer did not have is deleted
    again: Caddy 2.6 sets it to the unresolved placeholder text
    ``{http.reverse_proxy.header.X-Auth-Request-Groups}``.
    """
    delete = "\n".join(f"      request_header -{name}" for name in IDENTITY_NAMES)
    unresolved = "\n".join(
        f"      @unset{i} header_regexp {name} ^\\{{http\\.reverse_proxy\\.header\\.\n"
        f"      request_header @unset{i} -{name}"
        for i, name in enumerate(IDENTITY_NAMES)
    )
    return f"""{{
  admin off
  auto_https off
}}
http://127.0.0.1:{port} {{
  handle /oauth2/* {{
    reverse_proxy 127.0.0.1:{proxy_port}
  }}
  handle {{
    route {{
{delete}
      forward_auth 127.0.0.1:{proxy_port} {{
        uri /oauth2/auth
        copy_headers {" ".join(IDENTITY_NAMES)}
        @unauthenticated status 401
        handle_response @unauthenticated {{
          redir * /oauth2/start?rd={{scheme}}://{{host}}:{port}{{uri}}
        }}
      }}
{unresolved}
      reverse_proxy 127.0.0.1:{app_port}
    }}
  }}
}}
"""


def start_caddy(workdir: Path, caddyfile: str, port: int) -> Daemon:
    require_binary("caddy", CADDY)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "Caddyfile"
    path.write_text(caddyfile)
    home = {
        "HOME": str(workdir),
        "XDG_DATA_HOME": str(workdir / "data"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
    }
    daemon = Daemon(
        "caddy",
        [str(CADDY), "run", "--config", str(path), "--adapter", "caddyfile"],
        workdir,
        env=home,
    )
    daemon.wait_port(port)
    return daemon


# --- Apache + mod_auth_openidc (the benchmark's peer) --------------------------------------------

APACHE_CONF = """
ServerRoot %(dir)s
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
PidFile %(dir)s/apache.pid
ErrorLog %(dir)s/error.log
LogLevel warn
Mutex posixsem
DefaultRuntimeDir %(dir)s
%(user)s
LoadModule mpm_event_module %(mods)s/mod_mpm_event.so
LoadModule authz_core_module %(mods)s/mod_authz_core.so
LoadModule authz_user_module %(mods)s/mod_authz_user.so
LoadModule authn_core_module %(mods)s/mod_authn_core.so
LoadModule proxy_module %(mods)s/mod_proxy.so
LoadModule proxy_http_module %(mods)s/mod_proxy_http.so
LoadModule auth_openidc_module %(mods)s/mod_auth_openidc.so
ServerLimit 2
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 128
KeepAlive On
MaxKeepAliveRequests 0
OIDCProviderMetadataURL %(issuer)s/.well-known/openid-configuration
OIDCClientID %(client_id)s
OIDCClientSecret %(client_secret)s
OIDCRedirectURI http://127.0.0.1:%(port)d/redirect_uri
OIDCCryptoPassphrase %(passphrase)s
OIDCScope "openid email profile groups"
OIDCSessionInactivityTimeout 3600
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
ProxyPass /redirect_uri !
ProxyPass / http://127.0.0.1:%(app_port)d/ keepalive=On
"""


def start_apache(
    workdir: Path, port: int, app_port: int, issuer: str, client_id: str, client_secret: str
) -> Daemon:
    """Apache (event MPM, foreground) with mod_auth_openidc protecting a reverse proxy to
    ``app_port``, a relying party of ``issuer`` as ``client_id``."""
    require_binary("apache2", APACHE)
    require_binary("libapache2-mod-auth-openidc", APACHE_MODULES / "mod_auth_openidc.so")
    workdir.mkdir(parents=True, exist_ok=True)
    # Apache will not serve as root: its children run as www-data then.
    user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    conf = workdir / "apache.conf"
    conf.write_text(
        APACHE_CONF
        % {
            "dir": workdir,
            "port": port,
            "app_port": app_port,
            "issuer": issuer,
            "user": user,
            "mods": APACHE_MODULES,
            "client_id": client_id,
            "client_secret": client_secret,
            "passphrase": os.urandom(16).hex(),
        }
    )
    daemon = Daemon(
        "apache",
        [str(APACHE), "-f", str(conf), "-DFOREGROUND"],
        workdir,
        env={"APACHE_RUN_DIR": str(workdir), "APACHE_LOCK_DIR": str(workdir)},
    )
    daemon.wait_port(port)
    return daemon


# --- dex-py proxy --------------------------------------------------------------------------------


def dex_py_command() -> list[str]:
    """This checkout's ``dex-py`` console script, or its entry point run by this Python."""
    script = REPO_ROOT / ".venv" / "bin" / "dex-py"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from dex_py.entry import main; main()"]


def start_proxy(workdir: Path, config: dict[str, Any], port: int) -> Daemon:
    """``dex-py proxy CONFIG`` with ``config`` written as YAML; waits for ``/ping``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "proxy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    daemon = Daemon(
        "dex-py-proxy",
        [*dex_py_command(), "proxy", str(path)],
        workdir,
        env={"PYTHONUNBUFFERED": "1"},
    )
    daemon.wait_http(f"http://127.0.0.1:{port}/ping")
    return daemon
