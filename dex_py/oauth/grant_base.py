"""What every token-endpoint grant is built on: the parsed ``TokenRequest`` and ``BaseGrant``.

The grants (``grants``, ``refresh``, ``machine_grants``) subclass ``BaseGrant``; ``policy`` checks
a ``TokenRequest``; ``token_endpoint`` builds one and picks the grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dex_py.errors import InvalidRequest
from dex_py.services import Services


@dataclass(frozen=True)
class TokenRequest:
    form: dict[str, str]
    client: Any  # dex_py.storage.base.Client
    auth_method: str
    grant_type: str


class BaseGrant:
    grant_type: ClassVar[str]

    def __init__(self, svc: Services, treq: TokenRequest) -> None:
        self.svc = svc
        self.treq = treq
        self.form = treq.form
        self.client = treq.client

    def require(self, name: str) -> str:
        value = self.form.get(name, "")
        if not value:
            raise InvalidRequest(f"{name} is required")
        return value

    def respond(self) -> dict[str, Any]:
        raise NotImplementedError
