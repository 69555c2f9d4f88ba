"""Loading: Dex's YAML keys mapped to the dataclasses, file-level errors, hashes, *Env keys."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from dex_py.config import Config, ConfigError, ConnectorConfig, StaticClient
from dex_py.config.admin import AdminPolicy
from dex_py.config.loader import from_dict, load, load_string

from .conftest import DATA, PASSWORD_HASH, REPO_ROOT

FULL_YAML = """
issuer: https://dex.example.com/dex
storage:
  type: postgres
  config: {host: db.example.com, port: 5432, database: dex}
web:
  http: 0.0.0.0:5556
  https: 0.0.0.0:5554
  tlsCert: /etc/dex/tls.crt
  tlsKey: /etc/dex/tls.key
  tlsMinVersion: "1.3"
  headers: {X-Frame-Options: DENY}
  allowedOrigins: ['https://app.example.com']
  allowedHeaders: [Authorization]
telemetry: {http: 127.0.0.1:5558}
expiry:
  signingKeys: 12h
  idTokens: 1h
  authRequests: 30m
  deviceRequests: 10m
  authCodes: 2m
  refreshTokens:
    validIfNotUsedFor: 720h
    absoluteLifetime: 2160h
    reuseInterval: 10s
    disableRotation: true
logger: {level: warn, format: json}
oauth2:
  grantTypes: [authorization_code, client_credentials]
  responseTypes: [code, "code id_token"]
  skipApprovalScreen: true
  alwaysShowLoginScreen: true
  passwordConnector: ldap
staticClients:
- id: app
  secret: s3cret
  name: App
  redirectURIs: ['https://app.example.com/cb']
  trustedPeers: [cli]
  public: false
  logoURL: https://app.example.com/logo.png
  allowedConnectors: [ldap]
  allowedGroups: [admins]
  grantTypes: [authorization_code]
  postLogoutRedirectURIs: ['https://app.example.com/']
- {id: cli, name: CLI, public: true, skipApproval: true}
connectors:
- type: ldap
  id: ldap
  name: LDAP
  config: {host: 'ldap.example.com:636', bindPW: secret}
enablePasswordDB: false
staticPasswords:
- email: jane@example.com
  hash: "PASSWORD_HASH"
  username: jane
  userID: "1234"
  groups: [admins, dev]
frontend:
  dir: /srv/web
  theme: dark
  issuer: Example Corp
  logoURL: /theme/logo.png
  extra: {tos: 'https://example.com/tos'}
signing: {algorithm: ES256}
server: {workers: 4, timeout: 60, gcInterval: 1m, engine: gunicorn, shutdownDelay: 10s}
teams: {rules: []}
proxy: {upstream: 'http://127.0.0.1:9000'}
kube: {}
admin:
session:
""".replace("PASSWORD_HASH", PASSWORD_HASH)


def test_every_key_maps_to_its_field(write_yaml: Any) -> None:
    config = load(write_yaml(FULL_YAML))
    assert config.issuer == "https://dex.example.com/dex"
    assert config.storage.type == "postgres"
    assert config.storage.config == {"host": "db.example.com", "port": 5432, "database": "dex"}
    web = config.web
    assert (web.http, web.https, web.tls_cert, web.tls_key, web.tls_min_version) == (
        "0.0.0.0:5556",
        "0.0.0.0:5554",
        "/etc/dex/tls.crt",
        "/etc/dex/tls.key",
        "1.3",
    )
    assert web.headers == {"X-Frame-Options": "DENY"}
    assert web.allowed_origins == ["https://app.example.com"]
    assert web.allowed_headers == ["Authorization"]
    assert config.telemetry.http == "127.0.0.1:5558"
    e = config.expiry
    assert e.signing_keys == timedelta(hours=12)
    assert e.id_tokens == timedelta(hours=1)
    assert e.auth_requests == timedelta(minutes=30)
    assert e.device_requests == timedelta(minutes=10)
    assert e.auth_codes == timedelta(minutes=2)
    r = e.refresh_tokens
    assert r.valid_if_not_used_for == timedelta(hours=720)
    assert r.absolute_lifetime == timedelta(hours=2160)
    assert r.reuse_interval == timedelta(seconds=10)
    assert r.disable_rotation is True
    assert (config.logger.level, config.logger.format) == ("warn", "json")
    o = config.oauth2
    assert o.grant_types == ["authorization_code", "client_credentials"]
    assert o.response_types == ["code", "code id_token"]
    assert o.skip_approval_screen is True
    assert o.always_show_login_screen is True
    assert o.password_connector == "ldap"
    assert config.static_clients[0] == StaticClient(
        id="app",
        secret="s3cret",
        name="App",
        redirect_uris=["https://app.example.com/cb"],
        trusted_peers=["cli"],
        public=False,
        logo_url="https://app.example.com/logo.png",
        allowed_connectors=["ldap"],
        allowed_groups=["admins"],
        grant_types=["authorization_code"],
        post_logout_redirect_uris=["https://app.example.com/"],
    )
    assert config.static_clients[1] == StaticClient(
        id="cli", name="CLI", public=True, skip_approval=True
    )
    assert config.connectors == [
        ConnectorConfig(
            type="ldap",
            id="ldap",
            name="LDAP",
            config={"host": "ldap.example.com:636", "bindPW": "secret"},
        )
    ]
    assert config.enable_password_db is False
    user = config.static_passwords[0]
    assert (user.email, user.username, user.user_id) == ("jane@example.com", "jane", "1234")
    assert user.hash == PASSWORD_HASH.encode()
    assert user.groups == ["admins", "dev"]
    f = config.frontend
    assert (f.dir, f.theme, f.issuer, f.logo_url) == (
        "/srv/web",
        "dark",
        "Example Corp",
        "/theme/logo.png",
    )
    assert f.extra == {"tos": "https://example.com/tos"}
    assert config.signing.algorithm == "ES256"
    assert config.server.workers == 4
    assert config.server.timeout == 60
    assert config.server.gc_interval == timedelta(minutes=1)
    assert config.server.engine == "gunicorn"
    assert config.server.shutdown_delay == timedelta(seconds=10)
    assert config.extensions == {
        "teams": {"rules": []},
        "proxy": {"upstream": "http://127.0.0.1:9000"},
        "kube": {},
        "admin": {},
        "session": {},
    }
    # Every key above is known: the only warning is about static passwords without the DB.
    assert config.warnings == [
        "staticPasswords: enablePasswordDB is false, so nobody can log in with them"
    ]


def test_defaults_for_a_minimal_file(load_data: Any) -> None:
    minimal = {"issuer": "http://localhost:5556/dex", "storage": {"type": "memory"}}
    config = load_data({**minimal, "web": {"http": ":5556"}})
    assert config.storage.type == "memory" and config.storage.config == {}
    assert config.expiry.signing_keys == timedelta(hours=6)
    assert config.expiry.id_tokens == timedelta(hours=24)
    assert config.expiry.refresh_tokens.reuse_interval == timedelta(seconds=3)
    assert config.expiry.refresh_tokens.valid_if_not_used_for is None
    assert config.web.tls_min_version == "1.2"
    assert (config.logger.level, config.logger.format) == ("info", "text")
    assert config.oauth2.response_types == ["code"]
    assert config.frontend.theme == "light"
    assert config.signing.algorithm == "RS256"
    assert config.static_clients == [] and config.extensions == {}


def test_dex_config_dev_loads_unchanged() -> None:
    config = load(DATA / "dex-config-dev.yaml")
    assert config.issuer == "http://127.0.0.1:5556/dex"
    assert config.storage.config == {"file": "var/sqlite/dex.db"}
    assert config.web.http == "0.0.0.0:5556"
    assert config.expiry.refresh_tokens.absolute_lifetime == timedelta(hours=3960)
    assert [c.id for c in config.static_clients] == ["example-app", "example-public"]
    assert config.static_clients[0].secret == "ZXhhbXBsZS1hcHAtc2VjcmV0"
    assert config.connectors[0].type == "mockCallback"
    assert config.oauth2.password_connector == "local"
    # the one difference from Dex worth a warning: public clients still see the approval page
    assert config.warnings == [
        "staticClients[1].public: oauth2.skipApprovalScreen does not apply to public clients: "
        "they see the approval page unless the client sets skipApproval: true"
    ]


def test_example_config_loads_without_warnings() -> None:
    config = load(REPO_ROOT / "config.example.yaml")
    assert config.warnings == []
    assert config.issuer == "http://127.0.0.1:5556/dex"
    assert config.storage.type == "sqlite3"
    assert config.storage.config == {"file": "var/dex.db"}
    assert config.telemetry.http == "127.0.0.1:5558"
    assert config.oauth2.password_connector == "local"
    app, public, proxy, automation = config.static_clients
    assert automation.grant_types == ["client_credentials"]
    assert AdminPolicy.from_config(config.extensions["admin"]).api_client("automation")
    assert (proxy.id, proxy.secret) == ("dex-py-proxy", "ZGV4LXB5LXByb3h5LXNlY3JldA")
    assert proxy.redirect_uris == ["http://127.0.0.1:4180/oauth2/callback"]
    assert proxy.backchannel_logout_uri == "http://127.0.0.1:4180/oauth2/backchannel-logout"
    assert (app.id, app.secret, app.name) == (
        "example-app",
        "ZXhhbXBsZS1hcHAtc2VjcmV0",
        "Example App",
    )
    assert app.redirect_uris == ["http://127.0.0.1:5555/callback"]
    assert public.public and not public.secret
    user = config.static_passwords[0]
    assert bcrypt.checkpw(b"password", user.hash)
    assert user.user_id == "08a8684b-db88-4b73-90a9-3cd1661f5466"
    assert user.groups == ["admins"]


def test_plain_and_base64_hashes_are_stored_as_the_raw_bcrypt_hash(
    valid: dict[str, Any], load_data: Any
) -> None:
    assert bcrypt.checkpw(b"password", PASSWORD_HASH.encode())
    encoded = base64.b64encode(PASSWORD_HASH.encode()).decode()
    valid["staticPasswords"].append(dict(valid["staticPasswords"][0], hash=encoded))
    valid["staticPasswords"][1]["email"] = "other@example.com"
    config = load_data(valid)
    assert [u.hash for u in config.static_passwords] == [PASSWORD_HASH.encode()] * 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("issuer: [unclosed\n", "line 2, column 1"),
        ("issuer: x\n  web: 1\n", "line 2, column 6"),
        ("issuer: a\nweb: {}\nissuer: b\n", "duplicate key 'issuer'"),
        ("issuer: a\nweb:\n  http: x\n  http: y\n", "line 4, column 3"),
    ],
)
def test_yaml_errors_name_line_and_column(write_yaml: Any, text: str, fragment: str) -> None:
    path = write_yaml(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    [(where, message)] = info.value.errors
    assert where == str(path)
    assert message.startswith("invalid YAML") and fragment in message


def test_merge_keys_are_not_duplicates(write_yaml: Any) -> None:
    text = (
        "base: &b {http: '127.0.0.1:1'}\nissuer: http://127.0.0.1/dex\n"
        "storage: {type: sqlite3, config: {file: x.db}}\nweb:\n  <<: *b\n"
    )
    config = load(write_yaml(text))
    assert config.web.http == "127.0.0.1:1"
    assert config.warnings == ["base: unknown key (ignored)"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- issuer: x\n", "top level must be a mapping"),
        ("just a string\n", "top level must be a mapping"),
    ],
)
def test_top_level_must_be_a_mapping(write_yaml: Any, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write_yaml(text))
    assert fragment in info.value.errors[0][1]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "nope.yaml")
    assert info.value.errors == [(str(tmp_path / "nope.yaml"), "config file not found")]
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "directory" in info.value.errors[0][1]


def test_load_string_and_from_dict(valid: dict[str, Any]) -> None:
    assert isinstance(from_dict(valid), Config)
    text = (
        "issuer: http://127.0.0.1/dex\nstorage: {type: sqlite3, config: {file: x.db}}\n"
        "web: {http: ':1'}\n"
    )
    assert load_string(text).storage.type == "sqlite3"
    with pytest.raises(ConfigError) as info:
        from_dict({**valid, "issuer": ""})
    assert info.value.errors == [("issuer", "required")]


def test_config_error_message_lists_every_error() -> None:
    error = ConfigError([("issuer", "required"), ("web", "set at least one")])
    assert str(error) == "issuer: required\nweb: set at least one"


def test_id_env_secret_env_and_hash_from_env(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ID", "from-env")
    monkeypatch.setenv("APP_SECRET", "env-secret")
    monkeypatch.setenv("ADMIN_HASH", base64.b64encode(PASSWORD_HASH.encode()).decode())
    client = valid["staticClients"][0]
    del client["id"], client["secret"]
    client.update(idEnv="APP_ID", secretEnv="APP_SECRET")
    user = valid["staticPasswords"][0]
    del user["hash"]
    user["hashFromEnv"] = "ADMIN_HASH"
    config = load_data(valid)
    assert config.static_clients[0].id == "from-env"
    assert config.static_clients[0].secret == "env-secret"
    assert config.static_passwords[0].hash == PASSWORD_HASH.encode()
    assert config.warnings == []


def test_env_keys_win_like_dex_but_hash_beats_hash_from_env(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ID", "from-env")
    monkeypatch.setenv("ADMIN_HASH", "not-a-hash")
    valid["staticClients"][0]["idEnv"] = "APP_ID"
    valid["staticPasswords"][0]["hashFromEnv"] = "ADMIN_HASH"
    config = load_data(valid)
    assert config.static_clients[0].id == "from-env"
    assert config.static_passwords[0].hash == PASSWORD_HASH.encode()
    assert "staticClients[0].idEnv: both id and idEnv are set" in config.warnings
    assert "staticPasswords[0].hashFromEnv: ignored because hash is set" in config.warnings


@pytest.mark.parametrize(
    ("section", "index", "key", "target"),
    [
        ("staticClients", 0, "idEnv", "id"),
        ("staticClients", 0, "secretEnv", "secret"),
        ("staticPasswords", 0, "hashFromEnv", "hash"),
    ],
)
def test_missing_env_variable_is_one_error_naming_the_key(
    valid: dict[str, Any],
    errors_of: Any,
    monkeypatch: pytest.MonkeyPatch,
    section: str,
    index: int,
    key: str,
    target: str,
) -> None:
    monkeypatch.delenv("DEXPY_TEST_UNSET_VAR", raising=False)
    entry = valid[section][index]
    del entry[target]
    entry[key] = "DEXPY_TEST_UNSET_VAR"
    assert errors_of(valid) == [
        (f"{section}[{index}].{key}", "environment variable DEXPY_TEST_UNSET_VAR is not set")
    ]


def test_reserved_sections_are_kept_raw(valid: dict[str, Any], load_data: Any) -> None:
    valid["teams"] = {"rules": [{"glob": "cn=admins,*", "team": "admins"}]}
    valid["kube"] = None
    config = load_data(valid)
    assert config.extensions == {"teams": valid["teams"], "kube": {}}
    assert config.warnings == []


def test_unquoted_tls_version_and_log_level_case(write_yaml: Any) -> None:
    text = (
        "issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\n"
        "web: {http: ':5556', tlsMinVersion: 1.3}\nlogger: {level: INFO, format: JSON}\n"
    )
    config = load(write_yaml(text))
    assert config.web.tls_min_version == "1.3"
    assert (config.logger.level, config.logger.format) == ("info", "json")
