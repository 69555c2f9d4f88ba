"""The JSON Schema of config.yaml (docs/config.schema.json): the committed file is what the
generator makes now, every example config in the repository validates against it, it accepts
exactly the types the loader accepts, and check-config reports what it finds in its own format."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from dex_py.config import ConfigError
from dex_py.config import loader as config_loader
from dex_py.config.loader import from_dict
from dex_py.config.schema import REGENERATE, config_schema, schema_json, schema_problems
from tests.config.conftest import DATA, REPO_ROOT, VALID
from tests.config.test_example_documentation import _commented_blocks, _uncomment_nested

PUBLISHED = REPO_ROOT / "docs" / "config.schema.json"
EXAMPLE = REPO_ROOT / "config.example.yaml"


def _editor_errors(data: Any) -> list[str]:
    """Every complaint an editor would show, unknown keys included."""
    validator = jsonschema.Draft202012Validator(config_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_the_published_schema_is_the_generated_one() -> None:
    assert PUBLISHED.read_text() == schema_json(), f"regenerate it: {REGENERATE}"
    jsonschema.Draft202012Validator.check_schema(json.loads(PUBLISHED.read_text()))


def test_the_example_points_editors_at_the_schema() -> None:
    first = EXAMPLE.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./docs/config.schema.json"
    assert (EXAMPLE.parent / first.split("$schema=", 1)[1]).resolve() == PUBLISHED.resolve()


def _example_variants() -> Iterator[tuple[str, dict[str, Any]]]:
    """config.example.yaml as is, then with each commented connector example and the teams and
    session sections uncommented into it."""
    base = yaml.safe_load(EXAMPLE.read_text())
    yield "as is", base
    for block in _commented_blocks("  ", re.compile(r"- type: ")):
        [spec] = yaml.safe_load(_uncomment_nested(block))
        data = copy.deepcopy(base)
        data["connectors"].append(spec)
        yield f"connector {spec['type']}", data
    for name in ("teams", "session"):
        [block] = _commented_blocks("", re.compile(rf"{name}:$"))
        yield name, {**base, **yaml.safe_load(block)}


def test_every_example_config_validates() -> None:
    variants = [*_example_variants()]
    assert len(variants) > 8  # the example, its connectors, teams and session
    variants += [(p.name, yaml.safe_load(p.read_text())) for p in sorted(DATA.glob("*.yaml"))]
    variants.append(("tests/config VALID", copy.deepcopy(VALID)))
    for name, data in variants:
        assert _editor_errors(data) == [], name
        assert schema_problems(data) == [], name


def _leaves(schema: dict[str, Any], data: Any, path: list[Any]) -> Iterator[list[Any]]:
    """Paths of the keys of ``schema``, descending where ``data`` has a mapping or a list."""
    for key, sub in schema.get("properties", {}).items():
        yield [*path, key]
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            yield from _leaves(sub, value, [*path, key])
        elif isinstance(value, list) and value:
            yield from _leaves(sub.get("items", {}), value[0], [*path, key, 0])


def _set(data: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    for part in path[:-1]:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return data


def _text(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _loader_errors(data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The loader's errors without the schema's help."""
    with monkeypatch.context() as m:
        m.setattr(config_loader, "schema_problems", lambda data: [])
        try:
            from_dict(data)
        except ConfigError as exc:
            return exc.errors
    return []


WRONG_TYPES = (None, 7, 1.5, "text", True, ["a"], {"a": 1}, [1])
TYPE_MESSAGE = re.compile(r"must be (a string|true or false|an integer|a list|a mapping)")


def test_the_schema_accepts_exactly_the_types_the_loader_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every key the schema knows, set to values of each JSON type: the schema rejects the value
    exactly when the loader reports a type error for that key."""
    base: dict[str, Any] = copy.deepcopy(VALID)
    base.update({"web": {"http": "127.0.0.1:5556", "headers": {"X-A": "b"}}, "expiry": {}})
    base["expiry"]["refreshTokens"] = {}
    for name in ("telemetry", "logger", "oauth2", "frontend", "signing", "server"):
        base[name] = {}
    base["frontend"]["extra"] = {"a": "b"}
    # hashFromEnv is read only when hash is empty: both ways.
    from_env = copy.deepcopy(base)
    from_env["staticPasswords"][0] = {**from_env["staticPasswords"][0], "hashFromEnv": "HASH"}
    del from_env["staticPasswords"][0]["hash"]
    monkeypatch.setenv("HASH", base["staticPasswords"][0]["hash"])
    checked = 0
    variants = [(v, p) for v in (base, from_env) for p in _leaves(config_schema(), v, [])]
    assert ["staticPasswords", 0, "hashFromEnv"] in [p for _, p in variants]
    for variant, path in variants:
        if {"config", "teams", "session", "proxy", "kube", "admin", "jwks"} & set(path):
            continue  # owned by connectors, storage and our own sections: tested below
        for value in WRONG_TYPES:
            data = _set(variant, path, value)
            key = _text(path)
            by_schema = [p for p, _ in schema_problems(data) if p == key]
            by_loader = [
                p
                for p, m in _loader_errors(data, monkeypatch)
                if p == key and TYPE_MESSAGE.search(m)
            ]
            assert bool(by_schema) == bool(by_loader), (key, value, by_schema, by_loader)
            checked += 1
    assert checked > 1000


def test_connector_configs_follow_their_dataclasses(
    valid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    github = {"clientID": "id", "clientSecret": "secret", "orgs": [{"name": "acme"}]}
    valid["connectors"] = [{"type": "github", "id": "github", "name": "GitHub", "config": github}]
    assert schema_problems(valid) == []
    valid["connectors"][0]["config"] = {**github, "loadAllGroups": "yes please"}
    problem = ("connectors[0].config.loadAllGroups", "must be true or false")
    assert schema_problems(valid) == [problem]
    assert problem in _loader_errors(valid, monkeypatch)
    # "$VAR" is expanded before the connector reads its config: the schema accepts it.
    valid["connectors"][0]["config"] = {**github, "loadAllGroups": "$LOAD_ALL_GROUPS"}
    assert schema_problems(valid) == []
    del valid["connectors"][0]["config"]["clientSecret"]
    valid["connectors"][0]["config"]["orgs"] = [{"teams": ["a"]}]
    assert schema_problems(valid) == [
        ("connectors[0].config.orgs[0].name", "required"),
        ("connectors[0].config.clientSecret", "required"),
    ]
    valid["connectors"][0]["config"]["colour"] = "blue"
    assert any("colour" in e for e in _editor_errors(valid))  # an editor flags the typo


def test_storage_config_takes_any_values(valid: dict[str, Any]) -> None:
    valid["storage"] = {"type": "postgres", "config": {"host": "db", "port": "$PG_PORT"}}
    assert schema_problems(valid) == []
    valid["storage"]["config"]["port"] = 5432
    assert schema_problems(valid) == []
    assert "port" in config_schema()["properties"]["storage"]["properties"]["config"]["properties"]


def test_unknown_keys_are_editor_hints_loader_warnings_and_check_config_failures(
    valid: dict[str, Any], write_yaml: Any
) -> None:
    """The loader (and so ``serve``) only warns, as Dex does; check-config fails on a key
    dex-py would ignore."""
    from dex_py.cli import main

    valid["web"]["colour"] = "blue"
    assert any("colour" in e for e in _editor_errors(valid))
    assert schema_problems(valid) == []
    assert from_dict(valid).warnings == ["web.colour: unknown key (ignored)"]
    result = CliRunner().invoke(main, ["check-config", str(write_yaml(valid))])
    assert result.exit_code == 1, result.output
    assert "warning: web.colour: unknown key (ignored)" in result.output
    assert "1 key(s) or value(s) dex-py would ignore" in result.output


def test_check_config_reports_schema_problems_in_its_format(
    valid: dict[str, Any], write_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A type error is reported once (the schema does not repeat the loader), and anything only
    the schema found is listed with its key path like every other error."""
    from dex_py.cli import main

    valid["web"]["allowedOrigins"] = "https://example.org"
    path = write_yaml(valid)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert result.output.count("web.allowedOrigins") == 1
    assert "  web.allowedOrigins: must be a list of strings" in result.output
    monkeypatch.setattr(
        config_loader, "schema_problems", lambda data: [("frontend.theme", "must be a string")]
    )
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert "  web.allowedOrigins: must be a list of strings\n" in result.output
    assert "  frontend.theme: must be a string\n" in result.output


def _paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if not isinstance(data, dict | list):
        return
    for key, value in data.items() if isinstance(data, dict) else enumerate(data):
        yield (*path, key)
        yield from _paths(value, (*path, key))


def _outcome(data: dict[str, Any], schema: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        if not schema:
            m.setattr(config_loader, "schema_problems", lambda data: [])
        try:
            return ("ok", from_dict(data).warnings)
        except ConfigError as exc:
            return ("errors", exc.errors)


def test_the_schema_changes_no_outcome_of_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configs broken at random places (fixed seed) get the same errors and warnings with the
    schema check as without it: it was added without changing check-config's results."""
    rng = random.Random(8)
    bases = [VALID, yaml.safe_load(EXAMPLE.read_text())]
    bases += [yaml.safe_load(p.read_text()) for p in sorted(DATA.glob("*.yaml"))]
    values = [None, 0, -1, 1.5, "", "x", "$X", "1h", True, [], ["a"], [1], {}, {"a": 1}, [{}]]
    changed = 0
    for _ in range(400):
        data = copy.deepcopy(rng.choice(bases))
        for path in rng.sample(list(_paths(data)), 2):
            node: Any = data
            try:
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = copy.deepcopy(rng.choice(values))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed this path
            changed += 1
        with_schema = _outcome(data, True, monkeypatch)
        assert with_schema == _outcome(data, False, monkeypatch), data
    assert changed > 600
