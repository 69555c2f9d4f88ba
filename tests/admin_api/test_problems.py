"""Every refusal of the admin API is an RFC 9457 problem (``application/problem+json``, with
``type``, ``title``, ``status``, ``detail``), including routing errors, and never a stack
trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dex_py.admin_api import clients as api_clients
from tests.admin_api.conftest import API, Api, assert_problem


def test_unknown_route_is_a_404_problem(api: Api) -> None:
    for path in ("/nothing", "/clients/a/b/c", ""):
        resp = api.http.get(API + path)
        body = assert_problem(resp, 404)
        assert body["type"] == "about:blank" and body["title"] == "Not Found"


def test_wrong_method_is_a_405_problem_with_allow(api: Api) -> None:
    resp = api.http.open(API + "/keys", method="DELETE")
    assert_problem(resp, 405)
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}


def test_other_paths_keep_their_own_errors(api: Api) -> None:
    """Only the API answers problems: a page 404 elsewhere stays the HTML page."""
    resp = api.http.get("/dex/admin/api/v10/x")
    assert resp.mimetype != "application/problem+json"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("text/plain", '{"id": "x"}'), ("application/x-www-form-urlencoded", "id=x"), ("", "")],
)
def test_a_body_that_is_not_json_is_415(api: Api, content_type: str, data: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = api.call("POST", "/clients", data=data, headers=headers)
    assert_problem(resp, 415)


@pytest.mark.parametrize("data", ['{"id": ', "[1, 2]", '"text"', "\xff\xfe", "null"])
def test_malformed_json_is_400(api: Api, data: str) -> None:
    resp = api.call("POST", "/clients", data=data, headers={"Content-Type": "application/json"})
    body = assert_problem(resp, 400)
    assert "JSON" in body["detail"]


def test_json_nested_too_deeply_is_400_not_a_server_error(api: Api) -> None:
    data = "[" * 30000 + "]" * 30000  # within the 64 KiB limit
    resp = api.call("POST", "/clients", data=data, headers={"Content-Type": "application/json"})
    body = assert_problem(resp, 400)
    assert "nested" in body["detail"]


def test_a_body_too_large_is_413(api: Api) -> None:
    data = '{"name": "' + "x" * (70 * 1024) + '"}'
    resp = api.call("POST", "/clients", data=data, headers={"Content-Type": "application/json"})
    assert_problem(resp, 413)


@pytest.fixture
def broken_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def boom(*args: object) -> None:
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(api_clients.mc, "list_clients", boom)
    yield


def test_an_unexpected_error_is_a_500_problem_without_detail(
    api: Api, broken_list: None, caplog: pytest.LogCaptureFixture
) -> None:
    resp = api.get("/clients")
    body = assert_problem(resp, 500, "server-error")
    assert "secret-internal-detail" not in resp.get_data(as_text=True)
    assert "incident" in body["detail"]
    assert "secret-internal-detail" in caplog.text  # logged for the operator


def test_every_answer_is_no_store(api: Api) -> None:
    for resp in (api.get("/clients"), api.get("/keys"), api.http.get(API + "/openapi.json")):
        assert resp.headers["Cache-Control"] == "no-store"
