"""The OpenAPI document against the implementation: ``schemathesis`` generates requests from
the document for every operation (property-based, with Hypothesis) and checks each answer
against it: no server error, a documented status code, the documented content type and a body
matching the documented schema. Positive data (valid by the document) and negative data
(invalid by it) both; bounded and derandomized, so it runs in seconds and the same way every
time."""

from __future__ import annotations

from collections.abc import Callable

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
MAX_EXAMPLES = 15
DOCUMENT = build(ISSUER + "/admin/api/v1")
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
LABELS = [result.ok().label for result in SCHEMA.get_all_operations()]


def _has_input(label: str) -> bool:
    """Whether an operation takes anything that negative data could break."""
    method, path = label.split(" ", 1)
    item = DOCUMENT["paths"][path]
    operation = item[method.lower()]
    return bool(item.get("parameters") or operation.get("parameters") or "requestBody" in operation)


CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in LABELS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or _has_input(label)
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_the_implementation_matches_its_openapi_document(
    make_api: Callable[..., Api], label: str, mode: GenerationMode
) -> None:
    api = make_api()
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    headers = {"Authorization": f"Bearer {api.admin_token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
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


def test_every_route_is_documented_and_nothing_else() -> None:
    routes = {
        f"{method} {path.replace('<', '{').replace('>', '}')}"
        for path, _, _, methods in ROUTES
        for method in methods
    }
    assert routes == set(LABELS)
