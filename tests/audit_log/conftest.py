"""The in-process app fixtures of tests/oauth/conftest.py, for the audit log's tests."""

from __future__ import annotations

from tests.oauth.conftest import app as app  # the fixtures, re-exported
from tests.oauth.conftest import make_app as make_app
