"""The device authorization grant, client side (RFC 8628 §3.1-3.5).

Ask the ``device_authorization_endpoint`` that the issuer's discovery document names (RFC 8628
§4; an issuer that names none has the grant off, and the plugin says so rather than guessing a
path) for a device code, show ``user_code`` and ``verification_uri`` (and
``verification_uri_complete``) on stderr, then poll the token endpoint every ``interval`` seconds:
``authorization_pending`` keeps polling, ``slow_down`` adds 5 s to the interval (§3.5),
``expired_token`` and ``access_denied`` end the login, as does the code's ``expires_in``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from dex_py.kubelogin.errors import LoginError, OAuthError
from dex_py.kubelogin.oidc import Issuer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: when the server names no interval
SLOW_DOWN_STEP = 5  # §3.5


def start(issuer: Issuer, scopes: list[str]) -> dict[str, Any]:
    """The device authorization request (§3.1); the checked response (§3.2)."""
    url = issuer.metadata().get("device_authorization_endpoint")
    if not isinstance(url, str) or not url:
        raise LoginError(
            f"the issuer {issuer.url} does not advertise a device_authorization_endpoint: its "
            "device code grant is off (oauth2.grantTypes); use --grant-type authcode or password"
        )
    status, answer = issuer.post_form(url, {"scope": " ".join(scopes)})
    if status != 200 or "error" in answer:
        error = str(answer.get("error") or f"HTTP {status}")
        description = answer.get("error_description")
        if isinstance(description, str) and description:
            error += f": {description}"
        raise LoginError(f"device authorization at {url} failed: {error}")
    for name in ("device_code", "user_code", "verification_uri"):
        if not isinstance(answer.get(name), str) or not answer[name]:
            raise LoginError(f"the device authorization response has no {name}")
    return answer


def show(answer: dict[str, Any]) -> None:
    """Tell the user where to go and which code to enter (stderr: stdout is kubectl's)."""
    lines = [
        f"To log in, open {answer['verification_uri']} and enter the code {answer['user_code']}"
    ]
    complete = answer.get("verification_uri_complete")
    if isinstance(complete, str) and complete:
        lines.append(f"or open {complete}")
    print("\n".join(lines), file=sys.stderr, flush=True)


def poll(
    issuer: Issuer,
    answer: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the token endpoint (§3.4) until the user finishes; the token response (§3.5)."""
    interval = _positive_int(answer.get("interval"), DEFAULT_INTERVAL)
    deadline = clock() + _positive_int(answer.get("expires_in"), 1800)
    params = {"grant_type": GRANT_TYPE, "device_code": answer["device_code"]}
    while True:
        sleep(interval)
        if clock() > deadline:
            raise LoginError("the device code expired before the login finished; try again")
        try:
            return issuer.token(params)
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if exc.error == "expired_token":
                raise LoginError("the device code expired before the login finished") from None
            if exc.error == "access_denied":
                raise LoginError("the login was refused in the browser") from None
            raise


def login(issuer: Issuer, scopes: list[str]) -> dict[str, Any]:
    answer = start(issuer, scopes)
    show(answer)
    return poll(issuer, answer)


def _positive_int(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default
