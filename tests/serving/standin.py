"""A stand-in for ``dex_py.app.create_app`` and a runner, so the gunicorn tests exercise
``dex_py.serving.server`` with a tiny Flask app: ``python -m tests.serving.standin PARAMS.json``.

PARAMS.json: ``{"issuer", "http", "https", "tls_cert", "tls_key", "tls_min_version",
"telemetry", "workers", "storage", "gc_seconds", "marker_dir", "logger_format", "engine",
"shutdown_delay"}``. The fake
services append the worker pid to ``marker_dir/housekeeping`` on every housekeeping run; the
patched migration step appends the master pid to ``marker_dir/migrations``.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from dex_py.clock import Clock
from dex_py.config import (
    Config,
    LoggerConfig,
    ServerConfig,
    StorageConfig,
    TelemetryConfig,
    WebConfig,
)
from dex_py.ops.metrics import init_metrics
from dex_py.serving import run, server
from dex_py.storage.base import GCResult
from dex_py.web.headers import init_headers


class FakeKeys:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def rotate_if_due(self) -> bool:
        with self.marker.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return False


class FakeStorage:
    def garbage_collect(self, now: Any) -> GCResult:
        return GCResult()


class FakeServices:
    def __init__(self, config: Config, marker_dir: Path) -> None:
        self.config = config
        self.keys = FakeKeys(marker_dir / "housekeeping")
        self.storage = FakeStorage()
        self.clock = Clock()


def create_app(config: Config, marker_dir: Path | None = None) -> Flask:
    app = Flask("standin")

    @app.get("/dex/healthz")
    def healthz() -> Any:
        return "ok"

    @app.get("/dex/whoami")
    def whoami() -> Any:
        return jsonify(pid=os.getpid(), scheme=request.scheme)

    @app.post("/dex/echo")
    def echo() -> Any:
        return jsonify(length=len(request.get_data()), form=request.form.to_dict())

    init_headers(app, config.web)
    init_metrics(app, config.telemetry)
    if marker_dir is not None:
        app.extensions["dex_py"] = FakeServices(config, marker_dir)
    return app


def config_from_params(params: dict[str, Any]) -> Config:
    return Config(
        issuer=params.get("issuer", "http://127.0.0.1:5556/dex"),
        storage=StorageConfig(type=params.get("storage", "memory")),
        web=WebConfig(
            http=params.get("http", ""),
            https=params.get("https", ""),
            tls_cert=params.get("tls_cert", ""),
            tls_key=params.get("tls_key", ""),
            tls_min_version=params.get("tls_min_version", "1.2"),
        ),
        telemetry=TelemetryConfig(http=params.get("telemetry", "")),
        logger=LoggerConfig(level="info", format=params.get("logger_format", "text")),
        server=ServerConfig(
            workers=params.get("workers", 1),
            timeout=30,
            gc_interval=timedelta(seconds=params.get("gc_seconds", 300)),
            engine=params.get("engine", "granian"),
            shutdown_delay=timedelta(seconds=params.get("shutdown_delay", 0)),
        ),
    )


def main(params_path: str) -> None:
    params = json.loads(Path(params_path).read_text())
    config = config_from_params(params)
    marker_dir = Path(params["marker_dir"])

    def record_migration(cfg: Config) -> None:
        with (marker_dir / "migrations").open("a") as f:
            f.write(f"{os.getpid()}\n")

    server.run_migrations = record_migration  # type: ignore[assignment]
    run.serve(
        config,
        params_path,
        app_factory=lambda cfg: create_app(cfg, marker_dir),
        access_log=params.get("access_log", False),
    )


if __name__ == "__main__":
    main(sys.argv[1])
