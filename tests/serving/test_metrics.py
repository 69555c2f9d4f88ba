"""dex_py.ops.metrics in one process: request counter and histogram, event counters, off switch.
(The multi-process aggregation under gunicorn is in test_gunicorn.py.)"""

from __future__ import annotations

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from dex_py.config import TelemetryConfig
from dex_py.ops import metrics

ON = TelemetryConfig(http="127.0.0.1:0")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make_app(telemetry: TelemetryConfig = ON) -> Flask:
    app = Flask("metrics_test")

    @app.get("/hello")
    def hello() -> str:
        return "hi"

    @app.get("/fail")
    def fail() -> str:
        raise RuntimeError("boom")

    @app.before_request
    def early_answer() -> str | None:
        from flask import request

        return "short" if request.args.get("short") else None

    metrics.init_metrics(app, telemetry)
    return app


def test_off_when_telemetry_http_is_empty() -> None:
    app = make_app(TelemetryConfig(http=""))
    assert app.after_request_funcs == {}
    assert [f.__name__ for f in app.before_request_funcs[None]] == ["early_answer"]


def test_request_counter_and_histogram() -> None:
    client = make_app().test_client()
    ok = {"handler": "hello", "method": "GET", "code": "200"}
    before = sample("dexpy_http_requests_total", **ok)
    before_hist = sample("dexpy_http_request_duration_seconds_count", handler="hello", method="GET")
    before_404 = sample("dexpy_http_requests_total", handler="none", method="GET", code="404")
    for _ in range(3):
        assert client.get("/hello").status_code == 200
    client.get("/nowhere")
    assert sample("dexpy_http_requests_total", **ok) == before + 3
    after_hist = sample("dexpy_http_request_duration_seconds_count", handler="hello", method="GET")
    assert after_hist == before_hist + 3
    assert sample("dexpy_http_requests_total", handler="none", method="GET", code="404") == (
        before_404 + 1
    )


def test_server_errors_and_early_answers_are_counted() -> None:
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    err = {"handler": "fail", "method": "GET", "code": "500"}
    early = {"handler": "hello", "method": "GET", "code": "200"}
    before_err, before_early = (
        sample("dexpy_http_requests_total", **err),
        sample("dexpy_http_requests_total", **early),
    )
    assert client.get("/fail").status_code == 500
    assert client.get("/hello?short=1").get_data(as_text=True) == "short"
    assert sample("dexpy_http_requests_total", **err) == before_err + 1
    assert sample("dexpy_http_requests_total", **early) == before_early + 1


def test_unknown_methods_share_one_label() -> None:
    client = make_app().test_client()
    labels = {"handler": "none", "method": "other", "code": "405"}
    before = sample("dexpy_http_requests_total", **labels)
    client.open("/hello", method="BREW")
    client.open("/hello", method="WHEN")
    assert sample("dexpy_http_requests_total", **labels) == before + 2


def test_count_event() -> None:
    make_app()  # metrics exist once any app enabled them
    before = sample("dexpy_logins_total", connector="ldap", result="success")
    metrics.count_event("dexpy_logins_total", connector="ldap", result="success")
    assert sample("dexpy_logins_total", connector="ldap", result="success") == before + 1
    before_reuse = sample("dexpy_refresh_reuse_detected_total")
    metrics.count_event("dexpy_refresh_reuse_detected_total")
    assert sample("dexpy_refresh_reuse_detected_total") == before_reuse + 1
    metrics.count_event("dexpy_tokens_issued_total", grant_type="refresh_token")
    assert sample("dexpy_tokens_issued_total", grant_type="refresh_token") >= 1


def test_count_event_rejects_unknown_names_and_labels() -> None:
    make_app()
    with pytest.raises(KeyError):
        metrics.count_event("dexpy_made_up_total")
    with pytest.raises(ValueError):
        metrics.count_event("dexpy_tokens_issued_total", connector="x")


def test_build_info() -> None:
    make_app()
    samples = [s for m in REGISTRY.collect() if m.name == "dexpy_build_info" for s in m.samples]
    assert samples and samples[0].labels["version"] and samples[0].value == 1


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:5558", ("127.0.0.1", 5558)),
        (":5558", ("0.0.0.0", 5558)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_parse_address(address: str, expected: tuple[str, int]) -> None:
    assert metrics.parse_address(address) == expected


def test_parse_address_rejects_garbage() -> None:
    with pytest.raises(ValueError, match=r"telemetry\.http"):
        metrics.parse_address("localhost")


def test_dex_metric_names_and_labels() -> None:
    """Dex's dashboards query http_requests_total, request_duration_seconds and
    response_size_bytes by code, lower-case method and the handler's path below the issuer."""
    app = Flask("dex_names_test")

    @app.get("/dex/token")
    def token() -> str:
        return "x" * 600

    @app.post("/dex/auth/<connector>/login")
    def password_login(connector: str) -> str:
        return connector

    metrics.init_metrics(app, ON, "/dex")
    client = app.test_client()
    token_labels = {"code": "200", "method": "get", "handler": "/token"}
    login_labels = {"code": "200", "method": "post", "handler": "/auth/{connector}/login"}
    before = sample("http_requests_total", **token_labels)
    before_login = sample("http_requests_total", **login_labels)
    before_small = sample("response_size_bytes_bucket", le="500.0", **token_labels)
    before_large = sample("response_size_bytes_bucket", le="900.0", **token_labels)
    before_fast = sample("request_duration_seconds_bucket", le="10.0", **token_labels)
    client.get("/dex/token")
    client.get("/dex/token")
    client.post("/dex/auth/ldap/login")
    assert sample("http_requests_total", **token_labels) == before + 2
    assert sample("http_requests_total", **login_labels) == before_login + 1
    # a 600-byte answer lands above the 500-byte bucket and inside the 900-byte one
    assert sample("response_size_bytes_bucket", le="500.0", **token_labels) == before_small
    assert sample("response_size_bytes_bucket", le="900.0", **token_labels) == before_large + 2
    assert sample("request_duration_seconds_bucket", le="10.0", **token_labels) == before_fast + 2


def test_dex_handler_names_strip_the_issuer_path_and_write_variables_in_braces() -> None:
    app = Flask("handler_names_test")
    app.add_url_rule("/dex/keys", "keys", lambda: "")
    app.add_url_rule("/dex/callback/<string:connector>", "callback", lambda connector: "")
    app.add_url_rule("/dex", "landing", lambda: "")
    names = metrics.dex_handler_names(app, "/dex")
    assert names["keys"] == "/keys"
    assert names["callback"] == "/callback/{connector}"
    assert names["landing"] == "/"
