"""Validation: each rule has a failing input asserting the exact key path; warnings likewise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dex_py.config import ConfigError
from dex_py.config.loader import load

Mutate = Callable[[dict[str, Any]], None]


def setter(path: str, value: Any) -> Mutate:
    """A mutation setting ``a.b.0.c`` (list indices as numbers) to ``value``."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def deleter(path: str) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


def both(*mutations: Mutate) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def add_client(**client: Any) -> Mutate:
    return lambda data: data["staticClients"].append(client)


def add_connector(**connector: Any) -> Mutate:
    return lambda data: data["connectors"].append(connector)


def add_user(**overrides: Any) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        data["staticPasswords"].append({**data["staticPasswords"][0], **overrides})

    return mutate


HTTPS = setter("web", {"https": "0.0.0.0:5554"})

# (id, mutation, expected key path, fragment of the message)
ERROR_CASES: list[tuple[str, Mutate, str, str]] = [
    ("issuer-missing", deleter("issuer"), "issuer", "required"),
    ("issuer-not-string", setter("issuer", 5556), "issuer", "must be a string"),
    ("issuer-relative", setter("issuer", "/dex"), "issuer", "absolute http"),
    ("issuer-ftp", setter("issuer", "ftp://example.com/dex"), "issuer", "absolute http"),
    ("issuer-no-host", setter("issuer", "https:///dex"), "issuer", "absolute http"),
    ("issuer-query", setter("issuer", "https://example.com/dex?x=1"), "issuer", "query"),
    ("issuer-fragment", setter("issuer", "https://example.com/dex#top"), "issuer", "fragment"),
    ("issuer-space", setter("issuer", "https://example.com/dex "), "issuer", "spaces"),
    ("issuer-empty-query", setter("issuer", "https://example.com/dex?"), "issuer", "query"),
    ("storage-missing", deleter("storage"), "storage.type", "required"),
    ("storage-not-mapping", setter("storage", "sqlite3"), "storage", "must be a mapping"),
    ("storage-type-unknown", setter("storage.type", "cassandra"), "storage.type", "one of"),
    (
        "storage-type-kubernetes",
        setter("storage.type", "kubernetes"),
        "storage.type",
        "migrate-storage",
    ),
    ("storage-config-list", setter("storage.config", ["x"]), "storage.config", "mapping"),
    ("web-no-listener", setter("web", {}), "web", "at least one"),
    (
        "web-https-no-cert",
        setter("web", {"https": ":5554", "tlsKey": "k"}),
        "web.tlsCert",
        "required",
    ),
    (
        "web-https-no-key",
        setter("web", {"https": ":5554", "tlsCert": "c"}),
        "web.tlsKey",
        "required",
    ),
    ("web-tls-version", setter("web.tlsMinVersion", "1.1"), "web.tlsMinVersion", "1.2, 1.3"),
    ("web-tls-version-float", setter("web.tlsMinVersion", 1.0), "web.tlsMinVersion", "1.2, 1.3"),
    (
        "web-remote-ip-proxy",
        setter("web.clientRemoteIP", {"header": "X-Real-IP", "trustedProxies": ["10.0.0.0/33"]}),
        "web.clientRemoteIP.trustedProxies[0]",
        "CIDR",
    ),
    (
        "web-remote-ip-no-header",
        setter("web.clientRemoteIP", {"trustedProxies": ["10.0.0.0/8"]}),
        "web.clientRemoteIP.header",
        "required",
    ),
    (
        "web-remote-ip-header-name",
        setter("web.clientRemoteIP", {"header": "X Forwarded"}),
        "web.clientRemoteIP.header",
        "header name",
    ),
    ("web-http-address", setter("web.http", "localhost"), "web.http", "host:port"),
    (
        "web-https-address",
        setter("web", {"https": "x:y", "tlsCert": "c", "tlsKey": "k"}),
        "web.https",
        "host:port",
    ),
    ("web-headers-type", setter("web.headers", {"X-A": 1}), "web.headers.X-A", "a string"),
    ("web-origins-type", setter("web.allowedOrigins", "*"), "web.allowedOrigins", "list"),
    ("telemetry-address", setter("telemetry", {"http": "5558"}), "telemetry.http", "host:port"),
    ("logger-level", setter("logger", {"level": "verbose"}), "logger.level", "debug, info"),
    ("logger-format", setter("logger", {"format": "xml"}), "logger.format", "text, json"),
    ("signing-algorithm", setter("signing", {"algorithm": "HS256"}), "signing.algorithm", "RS256"),
    ("expiry-bad", setter("expiry", {"idTokens": "forever"}), "expiry.idTokens", "'forever'"),
    ("expiry-no-unit", setter("expiry", {"signingKeys": "-1"}), "expiry.signingKeys", "unit"),
    ("expiry-int", setter("expiry", {"authRequests": 3600}), "expiry.authRequests", "string"),
    ("expiry-negative", setter("expiry", {"idTokens": "-1h"}), "expiry.idTokens", "positive"),
    (
        "expiry-zero",
        setter("expiry", {"deviceRequests": "0s"}),
        "expiry.deviceRequests",
        "positive",
    ),
    ("expiry-auth-codes", setter("expiry", {"authCodes": "1d"}), "expiry.authCodes", "'1d'"),
    ("access-tokens-bad", setter("expiry", {"accessTokens": "1d"}), "expiry.accessTokens", "'1d'"),
    (
        "access-tokens-zero",
        setter("expiry", {"accessTokens": "0s"}),
        "expiry.accessTokens",
        "positive",
    ),
    (
        "refresh-idle",
        setter("expiry", {"refreshTokens": {"validIfNotUsedFor": "90 days"}}),
        "expiry.refreshTokens.validIfNotUsedFor",
        "invalid duration",
    ),
    (
        "refresh-absolute-negative",
        setter("expiry", {"refreshTokens": {"absoluteLifetime": "-1h"}}),
        "expiry.refreshTokens.absoluteLifetime",
        "negative",
    ),
    (
        "refresh-reuse-negative",
        setter("expiry", {"refreshTokens": {"reuseInterval": "-3s"}}),
        "expiry.refreshTokens.reuseInterval",
        "negative",
    ),
    (
        "refresh-rotation-type",
        setter("expiry", {"refreshTokens": {"disableRotation": "yes please"}}),
        "expiry.refreshTokens.disableRotation",
        "true or false",
    ),
    ("server-workers", setter("server", {"workers": -1}), "server.workers", "0"),
    ("server-workers-type", setter("server", {"workers": "four"}), "server.workers", "integer"),
    ("server-timeout", setter("server", {"timeout": 0}), "server.timeout", "positive"),
    ("server-gc", setter("server", {"gcInterval": "often"}), "server.gcInterval", "duration"),
    ("server-engine", setter("server", {"engine": "uwsgi"}), "server.engine", "granian"),
    (
        "server-shutdown-delay",
        setter("server", {"shutdownDelay": "soon"}),
        "server.shutdownDelay",
        "duration",
    ),
    ("password-db-type", setter("enablePasswordDB", "yes"), "enablePasswordDB", "true or false"),
    ("teams-not-mapping", setter("teams", ["rule"]), "teams", "must be a mapping"),
    ("frontend-extra", setter("frontend", {"extra": {"n": 1}}), "frontend.extra.n", "string"),
    ("frontend-theme-type", setter("frontend", {"theme": 1}), "frontend.theme", "string"),
    # oauth2
    (
        "grant-type-unknown",
        setter("oauth2", {"grantTypes": ["authorization_code", "magic"]}),
        "oauth2.grantTypes[1]",
        "'magic'",
    ),
    (
        "response-type-unknown",
        setter("oauth2", {"responseTypes": ["code", "code foo"]}),
        "oauth2.responseTypes[1]",
        "'code foo'",
    ),
    (
        "response-type-repeated",
        setter("oauth2", {"responseTypes": ["code code"]}),
        "oauth2.responseTypes[0]",
        "unknown response type",
    ),
    (
        "response-type-not-string",
        setter("oauth2", {"responseTypes": ["code", 7]}),
        "oauth2.responseTypes[1]",
        "a string",
    ),
    (
        "password-connector-unknown",
        setter("oauth2", {"passwordConnector": "ldap"}),
        "oauth2.passwordConnector",
        "'ldap'",
    ),
    (
        "password-connector-local-without-db",
        both(setter("oauth2", {"passwordConnector": "local"}), setter("enablePasswordDB", False)),
        "oauth2.passwordConnector",
        "enablePasswordDB is false",
    ),
    (
        "skip-approval-type",
        setter("oauth2", {"skipApprovalScreen": 1}),
        "oauth2.skipApprovalScreen",
        "true",
    ),
    # staticClients
    ("clients-not-list", setter("staticClients", {"id": "x"}), "staticClients", "list"),
    ("client-not-mapping", setter("staticClients.1", "cli"), "staticClients[1]", "mapping"),
    ("client-id-missing", deleter("staticClients.1.id"), "staticClients[1].id", "required"),
    ("client-id-type", setter("staticClients.1.id", 42), "staticClients[1].id", "a string"),
    (
        "client-id-duplicate",
        add_client(id="example-app", public=True),
        "staticClients[2].id",
        "duplicate client id 'example-app'",
    ),
    (
        "client-id-of-the-console",
        add_client(id="dex-py-admin", public=True),
        "staticClients[2].id",
        "reserved for the admin console",
    ),
    (
        "client-no-secret",
        deleter("staticClients.0.secret"),
        "staticClients[0].secret",
        "non-public",
    ),
    (
        "redirect-relative",
        setter("staticClients.0.redirectURIs", ["/callback"]),
        "staticClients[0].redirectURIs[0]",
        "absolute URI",
    ),
    (
        "redirect-fragment",
        setter("staticClients.0.redirectURIs", ["http://a/cb", "http://a/cb#frag"]),
        "staticClients[0].redirectURIs[1]",
        "fragment",
    ),
    (
        "redirect-no-host",
        setter("staticClients.0.redirectURIs", ["https:///cb"]),
        "staticClients[0].redirectURIs[0]",
        "no host",
    ),
    (
        "redirect-space",
        setter("staticClients.0.redirectURIs", ["http://a/c b"]),
        "staticClients[0].redirectURIs[0]",
        "absolute URI",
    ),
    (
        "redirect-not-list",
        setter("staticClients.0.redirectURIs", "http://a/cb"),
        "staticClients[0].redirectURIs",
        "list of strings",
    ),
    (
        "post-logout-relative",
        setter("staticClients.0.postLogoutRedirectURIs", ["logout"]),
        "staticClients[0].postLogoutRedirectURIs[0]",
        "absolute URI",
    ),
    (
        "client-grant-type",
        setter("staticClients.0.grantTypes", ["authorization_code", "jwt"]),
        "staticClients[0].grantTypes[1]",
        "'jwt'",
    ),
    (
        "client-public-type",
        setter("staticClients.1.public", "true"),
        "staticClients[1].public",
        "true",
    ),
    # connectors
    ("connectors-not-list", setter("connectors", "mock"), "connectors", "list"),
    ("connector-type", deleter("connectors.0.type"), "connectors[0].type", "required"),
    ("connector-id", deleter("connectors.0.id"), "connectors[0].id", "required"),
    ("connector-name", deleter("connectors.0.name"), "connectors[0].name", "required"),
    (
        "connector-id-duplicate",
        add_connector(type="mockCallback", id="mock", name="Again"),
        "connectors[1].id",
        "duplicate connector id 'mock'",
    ),
    (
        "connector-id-local",
        add_connector(type="ldap", id="local", name="LDAP"),
        "connectors[1].id",
        "reserved",
    ),
    ("connector-config", setter("connectors.0.config", "x"), "connectors[0].config", "mapping"),
    # staticPasswords
    ("user-email", deleter("staticPasswords.0.email"), "staticPasswords[0].email", "required"),
    ("user-hash", deleter("staticPasswords.0.hash"), "staticPasswords[0].hash", "required"),
    (
        "user-username",
        deleter("staticPasswords.0.username"),
        "staticPasswords[0].username",
        "required",
    ),
    ("user-userid", deleter("staticPasswords.0.userID"), "staticPasswords[0].userID", "required"),
    (
        "user-hash-plain",
        setter("staticPasswords.0.hash", "password"),
        "staticPasswords[0].hash",
        "bcrypt",
    ),
    (
        "user-hash-short",
        setter("staticPasswords.0.hash", "$2a$10$tooShort"),
        "staticPasswords[0].hash",
        "bcrypt",
    ),
    (
        "user-hash-base64-not-bcrypt",
        setter("staticPasswords.0.hash", "cGFzc3dvcmQ="),
        "staticPasswords[0].hash",
        "bcrypt",
    ),
    (
        "user-email-duplicate",
        add_user(email="Admin@Example.COM", userID="other"),
        "staticPasswords[1].email",
        "duplicate email",
    ),
    (
        "user-groups",
        setter("staticPasswords.0.groups", [1]),
        "staticPasswords[0].groups[0]",
        "string",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_rule_reports_its_key_path(
    valid: dict[str, Any], errors_of: Any, mutate: Mutate, path: str, fragment: str
) -> None:
    mutate(valid)
    errors = errors_of(valid)
    assert [p for p, _ in errors] == [path], errors
    assert fragment in errors[0][1]


def test_the_base_config_is_valid(valid: dict[str, Any], load_data: Any) -> None:
    assert load_data(valid).warnings == []


def test_all_errors_are_reported_at_once(valid: dict[str, Any], errors_of: Any) -> None:
    valid["issuer"] = "example.com/dex"
    valid["storage"]["type"] = "redis"
    valid["expiry"] = {"idTokens": "1 day"}
    valid["staticClients"][0]["redirectURIs"] = ["/cb"]
    del valid["staticClients"][0]["secret"]
    valid["connectors"][0]["id"] = ""
    valid["staticPasswords"][0]["hash"] = "nope"
    paths = [path for path, _ in errors_of(valid)]
    assert sorted(paths) == sorted(
        [
            "expiry.idTokens",
            "issuer",
            "storage.type",
            "staticClients[0].secret",
            "staticClients[0].redirectURIs[0]",
            "connectors[0].id",
            "staticPasswords[0].hash",
        ]
    )


def test_paths_keep_file_indices_when_an_entry_is_malformed(
    valid: dict[str, Any], errors_of: Any
) -> None:
    valid["staticClients"].insert(0, "not a client")
    del valid["staticClients"][2]["id"]
    assert errors_of(valid) == [
        ("staticClients[0]", "must be a mapping"),
        ("staticClients[2].id", "required (id or idEnv)"),
    ]


def test_type_error_is_not_repeated_as_required(valid: dict[str, Any], errors_of: Any) -> None:
    valid["staticPasswords"][0]["email"] = ["admin@example.com"]
    assert errors_of(valid) == [("staticPasswords[0].email", "must be a string")]


def test_cli_exits_one_listing_every_path(valid: dict[str, Any], write_yaml: Any) -> None:
    from click.testing import CliRunner

    from dex_py.cli import main

    del valid["staticClients"][0]["secret"]
    valid["logger"] = {"level": "loud"}
    result = CliRunner().invoke(main, ["check-config", str(write_yaml(valid))])
    assert result.exit_code == 1
    assert "staticClients[0].secret: required" in result.output
    assert "logger.level: must be one of" in result.output
    assert "OK" not in result.output


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:5555/callback",
        "http://localhost",
        "http://[::1]:8000/cb",
        "https://app.example.com/cb?x=1",
        "urn:ietf:wg:oauth:2.0:oob",
        "com.example.app:/oauth2redirect",
    ],
)
def test_redirect_uris_that_are_allowed(valid: dict[str, Any], load_data: Any, uri: str) -> None:
    valid["staticClients"][0]["redirectURIs"] = [uri]
    assert load_data(valid).static_clients[0].redirect_uris == [uri]


def test_secret_required_only_for_non_public(valid: dict[str, Any], load_data: Any) -> None:
    valid["staticClients"][1].pop("secret", None)
    valid["staticClients"][1].pop("redirectURIs", None)
    client = load_data(valid).static_clients[1]
    assert client.public and client.secret == "" and client.redirect_uris == []


def test_all_known_grant_and_response_types_pass(valid: dict[str, Any], load_data: Any) -> None:
    grants = [
        "authorization_code",
        "refresh_token",
        "implicit",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "client_credentials",
    ]
    responses = [
        "code",
        "token",
        "id_token",
        "code id_token",
        "id_token token",
        "token code id_token",
    ]
    valid["oauth2"] = {"grantTypes": grants, "responseTypes": responses}
    config = load_data(valid)
    assert config.oauth2.grant_types == grants
    assert config.oauth2.response_types == responses


def test_local_is_an_ordinary_connector_id_without_the_password_db(
    valid: dict[str, Any], load_data: Any
) -> None:
    valid["enablePasswordDB"] = False
    del valid["staticPasswords"]
    valid["connectors"].append({"type": "ldap", "id": "local", "name": "LDAP"})
    valid["oauth2"] = {"passwordConnector": "local"}
    assert [c.id for c in load_data(valid).connectors] == ["mock", "local"]


# (id, mutation, expected warning)
WARNING_CASES: list[tuple[str, Mutate, str]] = [
    ("unknown-top", setter("colour", "blue"), "colour: unknown key (ignored)"),
    ("unknown-nested", setter("web.colour", 1), "web.colour: unknown key (ignored)"),
    (
        "unknown-in-client",
        setter("staticClients.0.redirectURLs", []),
        "staticClients[0].redirectURLs: unknown key (ignored); did you mean 'redirectURIs'?",
    ),
    (
        "unknown-in-refresh",
        setter("expiry", {"refreshTokens": {"lifetime": "1h"}}),
        "expiry.refreshTokens.lifetime: unknown key (ignored)",
    ),
    ("grpc", setter("grpc", {"port": "127.0.0.1:5557"}), "grpc.port: unknown key (ignored)"),
    (
        "client-remote-ip",
        setter("web.clientRemoteIP", {"header": "X-Forwarded-For", "hops": 2}),
        "web.clientRemoteIP.hops: unknown key (ignored)",
    ),
    (
        "tls-max-version",
        setter("web.tlsMaxVersion", "1.3"),
        "web.tlsMaxVersion: accepted but not used by dex-py",
    ),
    (
        "profiling",
        setter("telemetry", {"enableProfiling": True}),
        "telemetry.enableProfiling: accepted but not used by dex-py",
    ),
    (
        "memory",
        setter("storage", {"type": "memory"}),
        "storage.type: memory storage: data is lost on restart",
    ),
    (
        "http-issuer",
        setter("issuer", "http://dex.example.com/dex"),
        "issuer: plain http on a non-loopback host: use https in production",
    ),
    (
        "trusted-peer",
        setter("staticClients.0.trustedPeers", ["cli", "ghost"]),
        "staticClients[0].trustedPeers[1]: 'ghost' is not a static client",
    ),
    (
        "allowed-connector",
        setter("staticClients.0.allowedConnectors", ["mock", "github"]),
        "staticClients[0].allowedConnectors[1]: 'github' is not a connector here",
    ),
    (
        "confidential-without-redirects",
        deleter("staticClients.0.redirectURIs"),
        "staticClients[0].redirectURIs: empty: the client cannot use browser logins",
    ),
    (
        "passwords-without-db",
        setter("enablePasswordDB", False),
        "staticPasswords: enablePasswordDB is false, so nobody can log in with them",
    ),
    (
        "duplicate-user-id",
        add_user(email="two@example.com"),
        "staticPasswords[1].userID: duplicate userID '08a8684b-db88-4b73-90a9-3cd1661f5466'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "warning"),
    [case[1:] for case in WARNING_CASES],
    ids=[case[0] for case in WARNING_CASES],
)
def test_warning_names_its_path(
    valid: dict[str, Any], load_data: Any, mutate: Mutate, warning: str
) -> None:
    mutate(valid)
    assert load_data(valid).warnings == [warning]


@pytest.mark.parametrize(
    "issuer", ["http://localhost:5556/dex", "http://127.0.0.2/dex", "http://[::1]:5556/dex"]
)
def test_plain_http_on_loopback_is_fine(valid: dict[str, Any], load_data: Any, issuer: str) -> None:
    valid["issuer"] = issuer
    assert load_data(valid).warnings == []


def test_client_credentials_client_needs_no_redirects(
    valid: dict[str, Any], load_data: Any
) -> None:
    del valid["staticClients"][0]["redirectURIs"]
    valid["staticClients"][0]["grantTypes"] = ["client_credentials"]
    assert load_data(valid).warnings == []


def test_unknown_keys_are_not_errors(valid: dict[str, Any]) -> None:
    valid["storage"]["colour"] = "red"
    valid["staticPasswords"][0]["password"] = "oops"
    try:
        config = load_from(valid)
    except ConfigError as exc:  # pragma: no cover - the assertion below explains
        pytest.fail(f"unknown keys must only warn: {exc}")
    assert config.warnings == [
        "storage.colour: unknown key (ignored)",
        "staticPasswords[0].password: unknown key (ignored)",
    ]


def load_from(data: dict[str, Any]) -> Any:
    from dex_py.config.loader import from_dict

    return from_dict(data)


def test_load_accepts_path_objects(write_yaml: Any, valid: dict[str, Any]) -> None:
    path = write_yaml(valid)
    assert load(path).issuer == load(str(path)).issuer == valid["issuer"]
