"""Dex's gRPC management API (``api.Dex``, Dex's ``api/v2``) served from dex-py's storage.

``api.proto`` restates Dex's wire contract (package ``api``, same messages and field numbers),
so clients built for Dex's API work unchanged. ``api_pb2*.py`` are generated from it and
committed; regenerate them from the repository root with::

    .venv/bin/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. \\
        --grpc_python_out=. dex_py/grpc_api/api.proto

``servicer`` implements the calls on a ``Storage``; ``server`` runs it (mutual TLS) next to the
HTTP server.
"""
