"""What a management operation can refuse, independent of how it was asked (page, JSON, gRPC)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dex_py.storage.base import AlreadyExistsError, NotFoundError, ReadOnlyError


class ManagementError(Exception):
    """Base class; ``str(exc)`` is safe to show to the admin (never a secret)."""


class NotFound(ManagementError):
    """No object with that id."""


class AlreadyExists(ManagementError):
    """The id is taken (by a stored object or one from config.yaml)."""


class ReadOnly(ManagementError):
    """The object comes from config.yaml: change it there."""


class Conflict(ManagementError):
    """The object changed since the caller read it (a stale version / ETag)."""


class Invalid(ManagementError):
    """Bad input: ``errors`` lists ``(field, message)`` pairs, every problem at once."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors))


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Turn the storage's refusals about ``what`` (``client 'x'``) into management errors."""
    try:
        yield
    except NotFoundError:
        raise NotFound(f"no {what}") from None
    except AlreadyExistsError:
        raise AlreadyExists(f"{what} exists already") from None
    except ReadOnlyError:
        raise ReadOnly(f"{what} is defined in config.yaml: change it there") from None
