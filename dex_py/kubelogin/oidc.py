"""The issuer as the plugin sees it: discovery (OpenID Connect Discovery 1.0 §4) and token
requests (RFC 6749 §3.2, errors per §5.2), over ``urllib`` with the TLS options of the command.

A confidential client authenticates with HTTP Basic (RFC 6749 §2.3.1: id and secret
form-urlencoded first); a public client sends ``client_id`` in the body.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from dex_py.kubelogin.errors import LoginError, OAuthError

TIMEOUT = 30.0


@dataclass
class Issuer:
    """An issuer and the client the plugin logs in as."""

    url: str
    client_id: str
    client_secret: str = ""
    ca_file: str = ""
    insecure: bool = False
    _meta: dict[str, Any] | None = field(default=None, repr=False)

    def _context(self, url: str) -> ssl.SSLContext | None:
        if not url.startswith("https:"):
            return None
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise LoginError(f"--certificate-authority {self.ca_file}: {exc}") from None

    def _open(
        self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request to an http(s) URL (the issuer's, or an endpoint its discovery names)."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise LoginError(f"refusing a non-http(s) URL from the issuer: {url!r}")
        request = urllib.request.Request(url, data, headers or {})  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(  # noqa: S310 - http(s) only, checked above
                request, timeout=TIMEOUT, context=self._context(url)
            ) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LoginError(f"cannot reach {url}: {reason}") from None

    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched once); its issuer must equal ``url`` (§4.3)."""
        if self._meta is None:
            url = self.url.rstrip("/") + "/.well-known/openid-configuration"
            status, body = self._open(url)
            meta = _json(body)
            if status != 200 or meta is None:
                raise LoginError(f"discovery at {url} answered HTTP {status}")
            if meta.get("issuer") != self.url:
                raise LoginError(
                    f"discovery at {url} names issuer {meta.get('issuer')!r}, not {self.url!r}"
                )
            self._meta = meta
        return self._meta

    def endpoint(self, name: str) -> str:
        value = self.metadata().get(name)
        if isinstance(value, str) and value:
            return value
        raise LoginError(f"the issuer's discovery document has no {name}")

    def post_form(self, url: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST ``params`` (plus client authentication) to ``url``; (status, JSON object)."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        body = dict(params)
        if self.client_secret:
            pair = ":".join(
                urllib.parse.quote(part, safe="") for part in (self.client_id, self.client_secret)
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            body["client_id"] = self.client_id
        data = urllib.parse.urlencode(body).encode()
        status, raw = self._open(url, data, headers)
        parsed = _json(raw)
        if parsed is None:
            raise LoginError(f"{url} answered HTTP {status} without a JSON object")
        return status, parsed

    def token(self, params: dict[str, str]) -> dict[str, Any]:
        """A token request; the answer must carry an ``id_token`` (we asked for ``openid``)."""
        status, answer = self.post_form(self.endpoint("token_endpoint"), params)
        if status != 200 or "error" in answer:
            raise OAuthError(
                str(answer.get("error") or f"HTTP {status}"),
                str(answer.get("error_description") or ""),
            )
        if not isinstance(answer.get("id_token"), str):
            raise LoginError("the token endpoint answered without an id_token")
        return answer


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
