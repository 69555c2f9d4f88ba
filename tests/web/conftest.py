"""Fixtures for the page tests: a factory for apps that render the sample pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.web.samples import make_page_app


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    def factory(**kwargs: Any) -> Flask:
        app = make_page_app(**kwargs)
        app.testing = True
        return app

    return factory
