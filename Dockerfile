# syntax=docker/dockerfile:1
# dex-py's container image (docs/deployment.md). Two stages:
#   builder  builds the dex-py wheel and the wheels of its dependencies from this tree;
#   runtime  installs those wheels only (no source tree, no compiler), runs as uid 1001.
# The runtime writes only to /var/dex (the volume: SQLite, if used) and /tmp, so it runs with
# a read-only root filesystem (Kubernetes: readOnlyRootFilesystem with an emptyDir on /tmp).
#
#   docker build -t dex-py .
#   docker run --rm -p 5556:5556 -p 5558:5558 dex-py      # the demo config below
#   docker run --rm -v $PWD/config.yaml:/etc/dex/config.yaml:ro -v dex-data:/var/dex dex-py
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from (pyproject.toml's packages and data-files).
COPY pyproject.toml README.md ./
COPY connectors/ connectors/
COPY dex_py/ dex_py/
COPY templates/ templates/
COPY static/ static/
COPY migrations/ migrations/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DEXPY_HEALTHCHECK_URL=http://127.0.0.1:5558/healthz/live
# The wheels are mounted from the builder for this one step, so none stays in a layer.
# The wheel carries templates/, static/ and migrations/ under <prefix>/share/dex-py.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/dex_py-*.whl \
 && groupadd --system --gid 1001 dex \
 && useradd --system --uid 1001 --gid dex --home-dir /var/dex --no-create-home \
        --shell /usr/sbin/nologin dex \
 && install -d -o dex -g dex -m 0750 /var/dex
COPY deploy/docker/config.yaml /etc/dex/config.yaml
USER 1001:1001
WORKDIR /var/dex
VOLUME ["/var/dex"]
# web.http, web.https, telemetry.http of the config above
EXPOSE 5556 5554 5558
# No curl in a slim image: Python asks the telemetry listener's liveness path.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['DEXPY_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["dex-py"]
CMD ["serve", "/etc/dex/config.yaml"]
