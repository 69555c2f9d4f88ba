"""The Caddyfile in docs/proxy.md is one Debian's Caddy accepts, and it keeps the steps the
end-to-end tests rely on (client identity headers deleted before forward_auth, inside a route)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.proxy_front.daemons import CADDY, IDENTITY_NAMES, require_binary

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"


def _caddyfile() -> str:
    blocks = re.findall(r"```caddyfile\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_documented_caddyfile_adapts(tmp_path: Path) -> None:
    require_binary("caddy", CADDY)
    path = tmp_path / "Caddyfile"
    path.write_text(_caddyfile())
    out = subprocess.run(
        [str(CADDY), "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "forward_auth" in _caddyfile() and json.loads(out.stdout)["apps"]["http"]


def test_the_documented_caddyfile_deletes_client_headers_before_forward_auth() -> None:
    text = _caddyfile()
    route = text.index("route {")
    auth = text.index("forward_auth")
    for name in IDENTITY_NAMES:
        assert route < text.index(f"request_header -{name}") < auth
