"""Fixtures of the GitLab connector tests: a fake upstream served on 127.0.0.1."""

from tests.connectors.oauth2.fake_upstream import upstream

__all__ = ["upstream"]
