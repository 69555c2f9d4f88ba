"""A connector class registered through a (faked) entry point in the registry tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from connectors.base import Identity, PasswordConnector, Scopes, key, parse_config


class EchoConnector(PasswordConnector):
    """Accepts any password equal to the username; remembers what ``open`` received."""

    @dataclass(frozen=True)
    class Config:
        greeting: str = key("greeting", default="hi")

    def __init__(self, config: EchoConnector.Config, connector_id: str, services: dict) -> None:
        self.config = config
        self.connector_id = connector_id
        self.services = services

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        return cls(parse_config(cls.Config, config), connector_id, services)

    def prompt(self) -> str:
        return "Name"

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        return Identity(user_id=username, username=username) if username == password else None


class NotAConnector:
    """Registered by mistake: the registry must refuse it."""
