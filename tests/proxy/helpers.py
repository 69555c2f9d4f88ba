"""Shared bits of the auth proxy's tests: a config dict that loads, and building one."""

from __future__ import annotations

import copy
from typing import Any

from dex_py.proxy.config import ProxyConfig, from_dict

SECRET = "an-example-cookie-secret-of-32-bytes-or-more"
OLD_SECRET = "the-previous-cookie-secret-also-32-bytes-long"


def base_config(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "listen": "127.0.0.1:4180",
        "issuer": "http://127.0.0.1:5556/dex",
        "clientID": "dex-py-proxy",
        "clientSecret": "ZGV4LXB5LXByb3h5LXNlY3JldA",
        "redirectURL": "http://127.0.0.1:4180/oauth2/callback",
        "cookie": {"secrets": [SECRET], "secure": False},
        "rules": [
            {"path": "/healthz", "methods": ["GET"], "skipAuth": True},
            {"host": "admin.example.com", "path": "/", "allow": {"teams": ["admins"]}},
            {"path": "/", "allow": {"teams": ["developers"]}},
        ],
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = copy.deepcopy(value)
    return data


def make_config(**overrides: Any) -> ProxyConfig:
    return from_dict(base_config(**overrides))
