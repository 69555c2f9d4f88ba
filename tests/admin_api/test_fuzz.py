"""The OpenAPI document against the implementation: ``schemathesis`` generates requests from
the document for every operation (property-based, with Hypothesis) and checks each answer
against it: no server error, a documented status code, the documented content type and a body
matching the documented schema. Positive data (valid by the document) and negative data
(invalid by it) both, each object operation also against a stored object, and sequences of
calls that follow the document's links (an id and an ETag from one answer into the next call);
bounded and derandomized, so it runs in well under a minute and the same way every time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dex_py.admin_api import ROUTES
from dex_py.admin_api.openapi import build
from tests.admin_api.conftest import Api
from tests.oauth.conftest import ISSUER

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 10
DOCUMENT = build(ISSUER + "/admin/api/v1")
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
LABELS = [result.ok().label for result in SCHEMA.get_all_operations()]


def _has_input(label: str) -> bool:
    """Whether an operation takes anything that negative data could break."""
    method, path = label.split(" ", 1)
    item = DOCUMENT["paths"][path]
    operation = item[method.lower()]
    return bool(item.get("parameters") or operation.get("parameters") or "requestBody" in operation)


# Objects every fuzzed app holds, so that operations on one object also run against one that
# exists (with ``If-Match: *``), not only against ids nobody stored.
EXISTING = {"client_id": "fuzzed", "email": "fuzzed@example.com", "connector_id": "fuzzed"}


def _seed(api: Api) -> None:
    for path, body in (
        ("/clients", {"id": "fuzzed", "grant_types": ["client_credentials"]}),
        ("/users", {"email": "fuzzed@example.com", "username": "f", "password": "fuzzed pw"}),
        ("/connectors", {"id": "fuzzed", "type": "mockCallback", "name": "Fuzzed"}),
    ):
        assert api.post(path, json=body).status_code == 201


def _path_params(label: str) -> list[str]:
    path = label.split(" ", 1)[1]
    return [name for name in EXISTING if "{" + name + "}" in path]


CASES = [
    pytest.param(label, mode, False, id=f"{label}-{mode.value}")
    for label in LABELS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or _has_input(label)
] + [
    pytest.param(label, GenerationMode.POSITIVE, True, id=f"{label}-existing")
    for label in LABELS
    if _path_params(label)
]


@pytest.mark.parametrize(("label", "mode", "existing"), CASES)
def test_the_implementation_matches_its_openapi_document(
    make_api: Callable[..., Api], label: str, mode: GenerationMode, existing: bool
) -> None:
    api = make_api()
    _seed(api)
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    headers = {"Authorization": f"Bearer {api.admin_token}"}
    fixed: dict[str, Any] = {}
    if existing:
        fixed["path_parameters"] = {name: EXISTING[name] for name in _path_params(label)}
        if any(p.name == "If-Match" for p in operation.headers):
            fixed["headers"] = {"If-Match": "*"}

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # report the first failure, unshrunk
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, app=api.app.flask)

    fuzz()


def test_the_document_is_valid_openapi_3_1() -> None:
    SCHEMA.validate()  # against the OpenAPI 3.1 meta-schema schemathesis carries
    assert DOCUMENT["openapi"] == "3.1.0"
    assert DOCUMENT["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    broken = {**DOCUMENT, "paths": {"/x": {"get": {"responses": {"200": {"bogus": 1}}}}}}
    with pytest.raises(ValueError, match="required property"):  # the checker checks
        schemathesis.openapi.from_dict(broken).validate()


def test_every_route_is_documented_and_nothing_else() -> None:
    routes = {
        f"{method} {path.replace('<', '{').replace('>', '}')}"
        for path, _, _, methods in ROUTES
        for method in methods
    }
    assert routes == set(LABELS)


def test_sequences_of_calls_follow_the_documents_links(make_api: Callable[..., Api]) -> None:
    """Stateful: create an object, then read, replace, patch or delete it with the id and the
    ETag the answer gave (the document's links), checking every answer on the way."""
    api = make_api()
    headers = {"Authorization": f"Bearer {api.admin_token}"}

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers, "app": api.app.flask}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Workflow.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
    )
