"""How ``api.Dex`` calls fail: ``Abort`` (a status of our choosing, e.g. ``INVALID_ARGUMENT``),
``ReadOnlyError`` (a config object: ``FAILED_PRECONDITION``), anything else ``INTERNAL`` with a
generic message (the details go to the log, never to the caller)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import grpc

from dex_py.storage.base import ReadOnlyError

log = logging.getLogger(__name__)


class Abort(Exception):
    """A call refused with a gRPC status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> NoReturn:
    raise Abort(grpc.StatusCode.INVALID_ARGUMENT, message)


@contextmanager
def answering(context: grpc.ServicerContext, call: str) -> Iterator[None]:
    """Turn ``Abort``, read-only and storage failures into a gRPC status (no internals)."""
    try:
        yield
    except Abort as e:
        context.abort(e.code, f"{call}: {e.message}")
    except ReadOnlyError as e:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{call}: {e}")
    except Exception:
        log.exception("gRPC %s failed", call)
        context.abort(grpc.StatusCode.INTERNAL, f"{call}: internal error")
