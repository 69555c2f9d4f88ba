"""The guide's nginx recipe (docs/from-dex.md), run for real: Debian's nginx with the guide's
server blocks (only addresses, ports and certificate paths replaced) and a self-signed
certificate, in front of ``dex-py serve`` with the guide's config for it. TLS ends at nginx,
plain HTTP redirects to HTTPS, HSTS is sent, and dex-py answers under its https issuer."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.deploy.test_from_dex_doc import fenced_blocks
from tests.live import _dex_py_command
from tests.processes import stop_group, wait_until_ok
from tests.services import free_port, missing_service
from tests.tls import self_signed_cert

pytestmark = [pytest.mark.live]

NGINX = "/usr/sbin/nginx"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"the guide's nginx config no longer has {old!r}: update this test"
    return text.replace(old, new)


def _guide_config() -> dict[str, Any]:
    for _, text in fenced_blocks("yaml"):
        data = yaml.safe_load(text)
        if data.get("web", {}).get("http") == "127.0.0.1:5556" and "storage" in data:
            return data
    raise AssertionError("the guide's config for the nginx recipe is gone")


@pytest.fixture
def recipe(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not shutil.which(NGINX):
        missing_service("nginx", f"{NGINX} not installed (Debian package nginx)")
    http_port, https_port, dex_port, telemetry = (free_port() for _ in range(4))
    issuer = f"https://127.0.0.1:{https_port}/dex"

    config = _guide_config()
    assert config["issuer"] == "https://dex.example.com/dex"
    config["issuer"] = issuer
    config["storage"]["config"]["file"] = str(tmp_path / "dex.db")
    config["web"]["http"] = f"127.0.0.1:{dex_port}"
    config["telemetry"]["http"] = f"127.0.0.1:{telemetry}"
    config["server"] = {"shutdownDelay": "0s", "workers": 1}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    cert, key = self_signed_cert(tmp_path)
    ((_, servers),) = fenced_blocks("nginx")
    servers = _replace(servers, "server 127.0.0.1:5556;", f"server 127.0.0.1:{dex_port};")
    servers = _replace(servers, "listen 80;", f"listen 127.0.0.1:{http_port};")
    servers = _replace(servers, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    servers = _replace(servers, "/etc/ssl/dex.example.com/fullchain.pem", str(cert))
    servers = _replace(servers, "/etc/ssl/dex.example.com/privkey.pem", str(key))
    servers = servers.replace("dex.example.com", "127.0.0.1")
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/nginx-error.log;\nevents {{}}\nhttp {{\n"
        f"access_log {tmp_path}/access.log;\n"
        + "".join(f"{name}_temp_path {path};\n" for name, path in temp.items()).replace(
            "body_temp_path", "client_body_temp_path"
        )
        + servers
        + "}\n"
    )
    if os.geteuid() == 0:  # nginx workers run as nobody
        for path in [tmp_path, *temp.values()]:
            path.chmod(0o777)

    dex_log, nginx_log = tmp_path / "dex.log", tmp_path / "nginx.log"
    with dex_log.open("wb") as out:
        dex = subprocess.Popen(
            [*_dex_py_command(), "serve", str(tmp_path / "config.yaml")],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    with nginx_log.open("wb") as out:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_until_ok([f"http://127.0.0.1:{telemetry}/healthz/ready"], dex, dex_log)
        wait_until_ok(
            [issuer + "/.well-known/openid-configuration"], nginx, nginx_log, verify=str(cert)
        )
        yield {"issuer": issuer, "cert": str(cert), "http_port": http_port, "dex_log": dex_log}
    finally:
        stop_group(nginx)
        stop_group(dex)


def test_nginx_ends_tls_and_dex_py_answers_as_the_https_issuer(recipe) -> None:
    issuer = recipe["issuer"]
    discovery = requests.get(issuer + "/.well-known/openid-configuration", verify=recipe["cert"])
    assert discovery.status_code == 200
    document = discovery.json()
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == issuer + "/token"
    assert discovery.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # the issuer URL itself answers, over https, without a redirect dex-py would have to build
    landing = requests.get(issuer, verify=recipe["cert"], timeout=10, allow_redirects=False)
    assert landing.status_code == 200
    assert "This is an OpenID Connect issuer." in landing.text
    with pytest.raises(requests.exceptions.SSLError):  # a certificate nobody vouches for
        requests.get(issuer, timeout=10)


def test_plain_http_redirects_to_https(recipe) -> None:
    response = requests.get(
        f"http://127.0.0.1:{recipe['http_port']}/dex/keys?x=1", allow_redirects=False, timeout=10
    )
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/dex/keys?x=1"
