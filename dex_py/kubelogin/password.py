"""The resource owner password credentials grant (RFC 6749 §4.3), for CI and scripts.

Only for a confidential client (``--client-secret``), as the server requires. Without
``--username``/``--password`` the user is asked on the terminal, and only when kubectl allows
prompting and stdin is a terminal.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from dex_py.kubelogin.errors import LoginError
from dex_py.kubelogin.oidc import Issuer


def credentials(username: str, password: str, *, may_prompt: bool) -> tuple[str, str]:
    """The username and password, asked for on the terminal when missing and allowed."""
    if username and password:
        return username, password
    if not may_prompt:
        raise LoginError(
            "the password grant needs --username and --password when it cannot prompt "
            "(kubectl sent interactive: false, or stdin is not a terminal)"
        )
    if not username:
        print("Username: ", end="", file=sys.stderr, flush=True)
        username = sys.stdin.readline().strip()
    if not password:
        password = getpass.getpass("Password: ", stream=sys.stderr)
    if not username or not password:
        raise LoginError("no username or password given")
    return username, password


def login(
    issuer: Issuer, scopes: list[str], username: str, password: str, *, may_prompt: bool
) -> dict[str, Any]:
    if not issuer.client_secret:
        raise LoginError(
            "the password grant needs a confidential client: pass --client-secret "
            "(the issuer refuses it for public clients)"
        )
    user, secret = credentials(username, password, may_prompt=may_prompt)
    return issuer.token(
        {"grant_type": "password", "username": user, "password": secret, "scope": " ".join(scopes)}
    )
