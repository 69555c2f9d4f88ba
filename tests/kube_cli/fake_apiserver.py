"""A loopback HTTPS stand-in for kube-apiserver (none can run on this machine), speaking the
Kubernetes wire format for the two requests kubectl makes in these tests:

- ``GET /version`` (version.Info), and
- ``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` (SelfSubjectReview, what
  ``kubectl auth whoami`` sends).

Every request needs ``Authorization: Bearer <ID token>``, checked by the real go-oidc verifier
(``k8s-oidc-verify``, built by ``tests/services/k8s_oidc_verify.py``) with the ``--oidc-*`` flags
that ``dex-py kube setup`` printed; a rejected token gets the API server's 401 ``Status``. The
server records each token it saw, so tests can tell which login kubectl used.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FLAG_TO_VERIFIER = {
    "--oidc-issuer-url": "-issuer",
    "--oidc-client-id": "-client-id",
    "--oidc-username-claim": "-username-claim",
    "--oidc-username-prefix": "-username-prefix",
    "--oidc-groups-claim": "-groups-claim",
    "--oidc-groups-prefix": "-groups-prefix",
    "--oidc-signing-algs": "-signing-algs",
}
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-dexpy-test",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.19",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def verifier_args(flags: list[str]) -> list[str]:
    """kube-apiserver ``--oidc-*=value`` flags as the verifier's arguments."""
    args = []
    for flag in flags:
        name, _, value = flag.partition("=")
        if name in FLAG_TO_VERIFIER:
            args += [FLAG_TO_VERIFIER[name], value]
    return args


def _review_request(content_type: str, body: bytes) -> dict[str, Any] | None:
    """The SelfSubjectReview kubectl posted (its spec is empty): JSON, or the protobuf wire
    format (the ``k8s\\0`` magic, then a runtime.Unknown naming apiVersion and kind), whose
    metadata this fake does not decode. The answer is JSON, which kubectl's Accept allows."""
    media = content_type.split(";")[0].strip()
    if media == "application/json":
        value = json.loads(body or b"{}")
        if isinstance(value, dict) and value.get("kind") == "SelfSubjectReview":
            return value
        return None
    protobuf = media == "application/vnd.kubernetes.protobuf" and body.startswith(b"k8s\x00")
    if protobuf and b"authentication.k8s.io/v1" in body and b"SelfSubjectReview" in body:
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return None


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeAPIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, verifier: str, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.verifier_binary = verifier
        self.verifier: list[str] = []
        self.tokens: list[str] = []
        self.rejections: list[str] = []
        self.reviews: list[dict[str, Any]] = []
        self.review_requests: list[tuple[str, bytes]] = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def start(self, apiserver_flags: list[str]) -> FakeAPIServer:
        """Serve, checking tokens as kube-apiserver would with ``apiserver_flags``."""
        self.verifier = [self.verifier_binary, *verifier_args(apiserver_flags)]
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def authenticate(self, token: str) -> dict[str, Any] | None:
        """The verifier's TokenReview-style status for ``token``, or None when rejected."""
        run = subprocess.run(
            self.verifier, input=token, capture_output=True, text=True, timeout=30, check=False
        )
        if run.returncode == 2:
            raise RuntimeError(f"k8s-oidc-verify could not check tokens: {run.stderr}")
        result: dict[str, Any] = json.loads(run.stdout)
        if not result.get("authenticated"):
            self.rejections.append(str(result.get("error")))
            return None
        return result


class _Handler(BaseHTTPRequestHandler):
    server: FakeAPIServer
    protocol_version = "HTTP/1.1"

    def _user(self) -> dict[str, Any] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header.removeprefix("Bearer ").strip()
        self.server.tokens.append(token)
        return self.server.authenticate(token)

    def _send(self, code: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        result = self._user()
        if result is None:
            self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            return
        path = self.path.split("?", 1)[0]
        if method == "GET" and path == "/version":
            self._send(200, VERSION)
        elif method == "POST" and path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            content_type = self.headers.get("Content-Type", "")
            self.server.review_requests.append((content_type, body))
            request = _review_request(content_type, body)
            if request is None:
                self._send(415, _status(415, "UnsupportedMediaType", "not a SelfSubjectReview"))
                return
            user = result["user"]
            review = {
                "kind": "SelfSubjectReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {
                    **request.get("metadata", {}),
                    "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                "status": {
                    "userInfo": {
                        "username": user["username"],
                        "groups": [*user["groups"], "system:authenticated"],
                    }
                },
            }
            self.server.reviews.append(review)
            self._send(201, review)
        else:
            self._send(404, _status(404, "NotFound", f"the server could not find {path}"))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        return
