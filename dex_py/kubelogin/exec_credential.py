"""The kubectl side of the exec credential protocol (client.authentication.k8s.io v1, v1beta1).

kubectl describes the call in ``KUBERNETES_EXEC_INFO`` (an ``ExecCredential`` with
``spec.interactive``); the plugin answers with an ``ExecCredential`` carrying ``status.token`` and
``status.expirationTimestamp`` (RFC 3339) on stdout and nothing else there. See the Kubernetes
docs, "client-go credential plugins".
"""

from __future__ import annotations

import json
import time

from dex_py.kubelogin.errors import LoginError

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
SUPPORTED = (V1, V1BETA1)


class ExecInfoError(LoginError):
    """KUBERNETES_EXEC_INFO is not something this plugin can answer."""


class ExecInfo:
    """What kubectl asked for: the answer's apiVersion and whether the user may be prompted."""

    __slots__ = ("api_version", "interactive")

    def __init__(self, api_version: str = V1, interactive: bool = True) -> None:
        self.api_version = api_version
        self.interactive = interactive


def parse_exec_info(raw: str | None) -> ExecInfo:
    """Read ``KUBERNETES_EXEC_INFO``. Without it (the plugin run by hand, not by kubectl) the
    answer is v1 and a login may start (a terminal prompt still needs a terminal on stdin)."""
    if not raw:
        return ExecInfo(V1, True)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ExecInfoError(f"KUBERNETES_EXEC_INFO is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ExecInfoError("KUBERNETES_EXEC_INFO is not a JSON object")
    version = data.get("apiVersion") or V1
    if version not in SUPPORTED:
        raise ExecInfoError(
            f"KUBERNETES_EXEC_INFO asks for apiVersion {version!r}; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    spec = data.get("spec")
    interactive = spec.get("interactive", False) if isinstance(spec, dict) else False
    return ExecInfo(version, interactive is True)


def rfc3339(epoch: int) -> str:
    """``epoch`` (seconds) as an RFC 3339 UTC timestamp, as metav1.Time serialises it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def render(api_version: str, token: str, expires_at: int) -> str:
    """The ExecCredential kubectl reads from stdout (one line of JSON)."""
    return json.dumps(
        {
            "apiVersion": api_version,
            "kind": "ExecCredential",
            "status": {"token": token, "expirationTimestamp": rfc3339(expires_at)},
        },
        separators=(",", ":"),
    )
