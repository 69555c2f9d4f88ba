"""TLS trust for requests to an upstream: Dex's ``rootCAs`` and ``insecureSkipVerify``.

``tls_verify_setting`` turns them into the ``verify`` value of ``requests``, which connectors pass
with every request (per request, because ``REQUESTS_CA_BUNDLE`` overrides a session's own
``verify``). Used by the ``oidc`` and ``oauth`` connectors.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import requests
import urllib3

from connectors.base import ConnectorConfigError

__all__ = ["remove_ca_bundle", "tls_verify_setting"]


def tls_verify_setting(
    root_cas: Sequence[str], insecure_skip_verify: bool, path: str = "config"
) -> tuple[bool | str, str | None]:
    """``requests``' ``verify`` value and a temporary CA bundle to delete on close (or None).

    Each ``rootCAs`` entry is a PEM file, or PEM text itself; they are added to the trust store
    requests would use (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` or certifi's bundle), as Dex
    adds them to the system pool. ``insecure_skip_verify`` verifies nothing (the operator chose
    it and the connector logs it once, so urllib3's warning on every request is silenced).
    Raises ``ConnectorConfigError`` naming the bad entry, ``<path>.rootCAs[i]``."""
    if insecure_skip_verify:
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        return False, None
    if not root_cas:
        return True, None
    pems: list[str] = []
    errors: list[tuple[str, str]] = []
    for i, entry in enumerate(root_cas):
        name = f"{path}.rootCAs[{i}]"
        if entry.lstrip().startswith("-----BEGIN"):
            pem = entry
        else:
            try:
                pem = Path(entry).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                errors.append((name, f"cannot read {entry}: {exc.__class__.__name__}"))
                continue
        try:
            ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError):
            errors.append((name, "is not a PEM certificate"))
            continue
        pems.append(pem.strip() + "\n")
    if errors:
        raise ConnectorConfigError(errors)
    base = Path(
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.utils.DEFAULT_CA_BUNDLE_PATH
    )
    if not base.is_file():
        base = Path(requests.utils.DEFAULT_CA_BUNDLE_PATH)
    default_bundle = base.read_text()
    fd, bundle = tempfile.mkstemp(prefix="dexpy-ca-", suffix=".pem")
    with os.fdopen(fd, "w") as fh:
        fh.write(default_bundle.rstrip() + "\n" + "".join(pems))
    return bundle, bundle


def remove_ca_bundle(bundle: str | None) -> None:
    """Delete a bundle made by ``tls_verify_setting`` (nothing if ``None``)."""
    if bundle:
        with contextlib.suppress(OSError):
            os.unlink(bundle)
