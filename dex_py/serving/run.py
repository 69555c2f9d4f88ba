"""``serve()``: run the engine named by ``server.engine`` (or ``--server``) until SIGTERM/SIGINT.

The plan both engines share is in ``dex_py.serving.server``; the engines are imported only when
picked, so the unused one (and its server library) is never loaded.
"""

from __future__ import annotations

import logging
from typing import Any

from dex_py.config import Config
from dex_py.ops.logs import setup_logging
from dex_py.serving.server import AppFactory, ServeError

log = logging.getLogger("dex_py.server")  # the name before the move


def serve(
    config: Config,
    config_path: str,
    *,
    workers: int | None = None,
    app_factory: AppFactory | None = None,
    access_log: bool = False,
    engine: str | None = None,
) -> None:
    """Run dex-py until SIGTERM/SIGINT on ``engine`` (default ``server.engine``: granian).

    ``app_factory(config)`` builds the WSGI app in each worker (default
    ``dex_py.app.create_app``). ``workers`` overrides ``server.workers``.
    """
    setup_logging(config.logger)
    # Config warnings go out as log lines, so JSON mode has them as JSON like every other line.
    for warning in config.warnings:
        logging.getLogger("dex_py.config").warning("config: %s", warning)
    engine = engine or config.server.engine
    kwargs: dict[str, Any] = {
        "workers": workers,
        "app_factory": app_factory,
        "access_log": access_log or config.logger.access_log,
    }
    try:
        if engine == "gunicorn":
            from dex_py.serving.gunicorn_server import build_application

            application = build_application(config, config_path, **kwargs)
        else:
            from dex_py.serving.granian_server import build_granian

            server = build_granian(config, config_path, **kwargs)
    except ServeError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(f"error: {exc}") from None
    if engine == "gunicorn":
        application.run()  # exits the process (SystemExit)
    else:
        server.serve_forever()
