"""The connector registry: built-ins, entry-point plugins, unknown types, config validation."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import connectors
from connectors import (
    ConnectorLoadError,
    UnknownConnectorType,
    open_connector,
    resolve,
    validate_connector_config,
)
from connectors.base import ConnectorConfigError, Scopes
from connectors.local import LocalConnector
from connectors.mock import MockCallbackConnector, MockPasswordConnector
from tests.connectors.plugin_fixture import EchoConnector


def _fake_entry_points(*eps: EntryPoint):
    def entry_points(*, group: str):
        return [ep for ep in eps if ep.group == group]

    return entry_points


@pytest.fixture
def plugins(monkeypatch):
    """Install fake entry points: ``plugins(EntryPoint(...), ...)``."""

    def install(*eps: EntryPoint) -> None:
        monkeypatch.setattr(connectors, "entry_points", _fake_entry_points(*eps))

    install()
    return install


@pytest.mark.parametrize(
    ("type_name", "cls"),
    [
        ("local", LocalConnector),
        ("mockCallback", MockCallbackConnector),
        ("mockPassword", MockPasswordConnector),
    ],
)
def test_builtin_types_resolve(plugins, type_name, cls):
    assert resolve(type_name) is cls


def test_every_builtin_target_exists(plugins):
    for type_name in connectors.BUILTIN:
        assert isinstance(resolve(type_name), type)


def test_unknown_type_lists_known_types(plugins):
    with pytest.raises(UnknownConnectorType) as info:
        resolve("saml2")
    exc = info.value
    assert exc.type_name == "saml2"
    assert exc.known == sorted(connectors.BUILTIN)
    assert exc.errors[0][0] == "type"
    message = str(exc)
    assert "'saml2'" in message
    for name in ("local", "mockCallback", "mockPassword"):
        assert name in message


def test_unknown_type_is_a_config_error(plugins):
    [(path, message)] = validate_connector_config("nope", {})
    assert path == "type"
    assert message.startswith("unknown connector type 'nope' (known: ")
    for name in ("local", "mockCallback", "mockPassword"):
        assert name in message


def test_entry_point_plugin_resolves_and_opens(plugins):
    plugins(
        EntryPoint("echo", "tests.connectors.plugin_fixture:EchoConnector", "dex_py.connectors"),
        EntryPoint("other", "tests.connectors.plugin_fixture:EchoConnector", "other.group"),
    )
    assert resolve("echo") is EchoConnector
    assert "echo" in connectors.known_types()
    assert "other" not in connectors.known_types()

    conn = open_connector(
        "echo", {"greeting": "hello"}, connector_id="e1", password_lookup=len, extra=1
    )
    assert isinstance(conn, EchoConnector)
    assert conn.config.greeting == "hello"
    assert conn.connector_id == "e1"
    assert conn.services == {"password_lookup": len, "extra": 1}
    assert conn.login(Scopes(), "bob", "bob") is not None

    with pytest.raises(UnknownConnectorType) as info:
        resolve("missing")
    assert "echo" in info.value.known


def test_builtin_wins_over_entry_point_of_same_name(plugins):
    plugins(
        EntryPoint("local", "tests.connectors.plugin_fixture:EchoConnector", "dex_py.connectors")
    )
    assert resolve("local") is LocalConnector


def test_plugin_that_is_not_a_connector_is_refused(plugins):
    plugins(EntryPoint("bad", "tests.connectors.plugin_fixture:NotAConnector", "dex_py.connectors"))
    with pytest.raises(ConnectorLoadError, match="not a Connector subclass"):
        resolve("bad")


def test_plugin_that_cannot_be_imported_is_a_config_error(plugins):
    plugins(EntryPoint("gone", "no_such_module_xyz:Thing", "dex_py.connectors"))
    errors = validate_connector_config("gone", {})
    assert len(errors) == 1
    assert errors[0][0] == "type"
    assert "no_such_module_xyz" in errors[0][1]


def test_open_connector_reports_config_errors_with_paths(plugins):
    with pytest.raises(ConnectorConfigError) as info:
        open_connector("mockPassword", {"username": "u"}, connector_id="m")
    assert info.value.errors == [("config.password", "required")]


def test_open_connector_ignores_services_a_connector_does_not_need(plugins):
    conn = open_connector("mockCallback", {}, connector_id="mock", password_lookup=len)
    assert isinstance(conn, MockCallbackConnector)


def test_open_connector_accepts_missing_config(plugins):
    assert isinstance(open_connector("mockCallback", None, connector_id="m"), MockCallbackConnector)


def test_validate_connector_config_passes_valid_config(plugins):
    assert validate_connector_config("mockPassword", {"username": "u", "password": "p"}) == []
    # local needs a password_lookup service to open, but validating never opens it
    assert validate_connector_config("local", {}) == []


def test_validate_connector_config_collects_every_error(plugins):
    errors = validate_connector_config(
        "mockPassword", {"username": {"a": 1}, "password": ["x"], "pasword": "typo"}
    )
    assert errors == [
        ("config.username", "must be a string"),
        ("config.password", "must be a string"),
        ("config.pasword", "unknown key"),
    ]
    assert validate_connector_config("mockPassword", "not a mapping") == [
        ("config", "must be a mapping")
    ]
