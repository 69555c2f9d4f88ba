"""``AuthorizeContext``: one authorization request as the ``/auth`` checks read and fill it in.

Its own module so that the checks in ``authorize`` and ``sso`` share it without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from dex_py.services import Services
from dex_py.storage.base import Client


@dataclass
class AuthorizeContext:
    """What the checks read and fill in."""

    params: MultiDict[str, str]
    svc: Services
    client: Client | None = None
    redirect_uri: str = ""
    response_types: tuple[str, ...] = ()
    response_mode: str = ""
    scopes: tuple[str, ...] = ()
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    connector_id: str = ""
    # prompt=consent, or approval_prompt=force (Dex's spelling, sent by oauth2-proxy)
    force_approval: bool = False
    notes: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.params.get(name, "")
