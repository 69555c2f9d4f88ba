"""Shared pytest setup: makes the live-server fixtures of ``tests/live.py`` (``live_issuer``,
``make_live_server``) available to every test package."""

from tests.live import live_issuer, make_live_server

__all__ = ["live_issuer", "make_live_server"]
