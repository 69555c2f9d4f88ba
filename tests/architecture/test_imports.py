"""The import graph of ``dex_py`` and ``connectors``: no cycles, and the layers of
ARCHITECTURE.md (what may import what), checked on the real tree and shown to fail on planted
faults."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.architecture.importgraph import (
    Rule,
    build_graph,
    cycles,
    layer_violations,
    violations,
)

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ("dex_py", "connectors")

# ARCHITECTURE.md, "Layers": lowest first; a module may import its own layer and those below.
# A name matches its package and modules ("dex_py.web" matches "dex_py.web.csrf"); "x$" only x.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("connectors",),
    ("dex_py$", "dex_py.clock", "dex_py.errors", "dex_py.resources", "dex_py.scopes"),
    ("dex_py.config",),
    ("dex_py.storage",),
    ("dex_py.jose",),
    (
        "dex_py.services",
        "dex_py.clients",
        "dex_py.connector_manager",
        "dex_py.passwords",
        "dex_py.teams",
        "dex_py.backchannel",
        "dex_py.revocation",
        "dex_py.login_guard",
        "dex_py.second_factor",
        "dex_py.auth_codes",
    ),
    ("dex_py.web", "dex_py.ops", "dex_py.grpc_api", "dex_py.management"),
    ("dex_py.oauth", "dex_py.admin", "dex_py.admin_api", "dex_py.kube", "dex_py.mfa"),
    ("dex_py.app", "dex_py.error_handlers"),
    (
        "dex_py.serving",
        "dex_py.cli",
        "dex_py.example_app",
        "dex_py.entry",
        "dex_py.kubelogin",
        "dex_py.proxy",
    ),
)
# check-config reports every problem at once, so config validation asks the owners of
# storage.config and of client JWK Sets; both import only the config model back. The config
# schema takes the names of storage.config's keys from their owner, for the same reason.
ALLOWED_UPWARD = (
    *(
        ("dex_py.config.validation", target)
        for target in (
            "dex_py.storage",
            "dex_py.storage.settings",
            "dex_py.jose",
            "dex_py.jose.client_assertions",
        )
    ),
    ("dex_py.config.schema", "dex_py.storage"),
    ("dex_py.config.schema", "dex_py.storage.settings"),
)
_BLUEPRINTS = ("dex_py.oauth", "dex_py.admin", "dex_py.admin_api", "dex_py.kube", "dex_py.mfa")
# What the auth proxy (its own process, a relying party of any issuer) may use of dex_py.
_PROXY_MAY_USE = ("dex_py$", "dex_py.clock", "dex_py.errors", "dex_py.resources", "dex_py.proxy")
RULES = (
    Rule("connectors", ("dex_py",), "connectors are the plugin contract: they never import dex_py"),
    *(
        Rule(bp, tuple(o for o in _BLUEPRINTS if o != bp), "blueprints share services only")
        for bp in _BLUEPRINTS
    ),
    # kubectl runs the plugin before every command: it stays stdlib-only, on its own.
    Rule(
        "dex_py.kubelogin",
        tuple(p for layer in LAYERS for p in layer if p not in ("dex_py$", "dex_py.kubelogin")),
        "the kubectl plugin imports nothing of dex_py outside dex_py.kubelogin",
    ),
    # The auth proxy is a relying party in its own process: it must work with any OpenID
    # provider, so it checks tokens with its own code and keeps its own sessions.
    Rule(
        "dex_py.proxy",
        tuple(p for layer in LAYERS for p in layer if p not in _PROXY_MAY_USE),
        "the auth proxy is a relying party: it imports only dex_py's foundation",
    ),
    Rule(
        "dex_py.example_app",
        ("dex_py.config", "dex_py.storage", "dex_py.jose", "dex_py.oauth", "dex_py.services"),
        "the example app is a relying party: it must not use the provider's internals",
    ),
)


@pytest.fixture(scope="module")
def graph() -> dict[str, frozenset[str]]:
    return build_graph(ROOT, ROOTS)


def test_the_tree_has_no_import_cycles(graph: dict[str, frozenset[str]]) -> None:
    assert "dex_py.oauth.login" in graph and "connectors.base" in graph
    assert cycles(graph) == []


def test_the_tree_keeps_its_layers(graph: dict[str, frozenset[str]]) -> None:
    assert layer_violations(graph, LAYERS, ALLOWED_UPWARD) == []
    assert violations(graph, RULES) == []


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    for name in ROOTS:
        shutil.copytree(ROOT / name, tmp_path / name)
    assert cycles(build_graph(tmp_path, ROOTS)) == []
    # Hidden inside a function, as cycles used to be dodged: still a cycle.
    clock = tmp_path / "dex_py" / "clock.py"
    clock.write_text(
        clock.read_text() + "\n\ndef _late():\n    from dex_py.app import create_app\n"
    )
    found = cycles(build_graph(tmp_path, ROOTS))
    assert found and any({"dex_py.clock", "dex_py.app"} <= set(c) for c in found)


def test_a_cycle_through_a_package_init_is_found() -> None:
    # storage/__init__ importing a config module whose package __init__ imports storage.sql
    graph = {
        "dex_py.storage": frozenset({"dex_py.config"}),
        "dex_py.storage.sql": frozenset(),
        "dex_py.config": frozenset({"dex_py.config.loader"}),
        "dex_py.config.loader": frozenset({"dex_py.storage.sql", "dex_py.storage"}),
    }
    assert cycles(graph) == [["dex_py.config", "dex_py.config.loader", "dex_py.storage"]]


def test_implicit_package_edges_are_in_the_graph(tmp_path: Path) -> None:
    for name in ("pkg/__init__.py", "pkg/a.py", "other/__init__.py", "other/b.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "other/__init__.py").write_text("from pkg.a import x\n")
    (tmp_path / "pkg/a.py").write_text("def f():\n    import other.b\n")
    graph = build_graph(tmp_path, ("pkg", "other"))
    assert graph["pkg.a"] == {"other", "other.b"}  # importing other.b runs other/__init__
    assert graph["other"] == {"pkg", "pkg.a"}
    assert cycles(graph) == [["other", "pkg.a"]]


def test_layer_and_rule_breaks_are_reported() -> None:
    graph = {
        "dex_py.storage.sql": frozenset({"dex_py.oauth.login"}),
        "dex_py.oauth.login": frozenset({"dex_py.storage.sql"}),
        "connectors.ldap": frozenset({"dex_py.config"}),
        "dex_py.newthing": frozenset(),
    }
    found = layer_violations(graph, LAYERS, ALLOWED_UPWARD)
    assert found == [
        "connectors.ldap (layer 0) imports dex_py.config (layer 2)",
        "dex_py.newthing is in no layer (add it to ARCHITECTURE.md and the test)",
        "dex_py.storage.sql (layer 3) imports dex_py.oauth.login (layer 7)",
    ]
    assert violations(graph, RULES) == [
        "connectors.ldap imports dex_py.config: connectors are the plugin contract: they never "
        "import dex_py"
    ]


def test_the_kubectl_plugin_stays_on_its_own() -> None:
    graph = {
        "dex_py.kubelogin.cache": frozenset({"dex_py", "dex_py.kubelogin.errors"}),
        "dex_py.kubelogin.oidc": frozenset({"dex_py.config"}),
        "dex_py.kubelogin.claims": frozenset({"dex_py.cli.common"}),
    }
    assert violations(graph, RULES) == [
        "dex_py.kubelogin.claims imports dex_py.cli.common: the kubectl plugin imports nothing "
        "of dex_py outside dex_py.kubelogin",
        "dex_py.kubelogin.oidc imports dex_py.config: the kubectl plugin imports nothing of "
        "dex_py outside dex_py.kubelogin",
    ]


def test_the_auth_proxy_stays_a_relying_party() -> None:
    graph = {
        "dex_py.proxy.app": frozenset({"dex_py.clock", "dex_py.proxy.rules"}),
        "dex_py.proxy.tokens": frozenset({"dex_py.jose.keys"}),
        "dex_py.proxy.store": frozenset({"dex_py.storage.sql"}),
    }
    assert violations(graph, RULES) == [
        "dex_py.proxy.store imports dex_py.storage.sql: the auth proxy is a relying party: it "
        "imports only dex_py's foundation",
        "dex_py.proxy.tokens imports dex_py.jose.keys: the auth proxy is a relying party: it "
        "imports only dex_py's foundation",
    ]
