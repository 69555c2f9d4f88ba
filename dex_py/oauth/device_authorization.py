"""The device authorization endpoint ``POST /device/code`` (RFC 8628 §3.1, §3.2).

A device (kubectl's exec plugin, a TV) asks for a device code and a user code. The client
authenticates as at ``/token`` (confidential clients with their credentials, public clients by
``client_id``); the device code grant must be enabled in ``oauth2.grantTypes`` and allowed for
the client, checked by the same policy as every grant. Errors are RFC 6749 §5.2 JSON. The
answer tells the user where to go (``verification_uri``, ``{issuer}/device``) and the device
how long the codes live (``expiry.deviceRequests``) and how often to poll (``interval``).
"""

from __future__ import annotations

from flask import request
from werkzeug import Response

from dex_py import scopes as sc
from dex_py.clients import authenticate_client
from dex_py.config.model import DEVICE_CODE_GRANT
from dex_py.errors import InvalidScope, ServerError, UnsupportedGrantType
from dex_py.oauth.device_codes import (
    POLL_INTERVAL,
    device_code_id,
    display_user_code,
    new_device_code,
    new_user_code,
)
from dex_py.oauth.grant_base import TokenRequest
from dex_py.oauth.policy import check_grant_policy
from dex_py.oauth.token_endpoint import json_response, strict_form
from dex_py.services import services
from dex_py.storage.base import AlreadyExistsError, DeviceRequest

_USER_CODE_TRIES = 5  # a fresh user code colliding with a live one is rare; retry a few times


def device_code_view() -> Response:
    svc = services()
    form = strict_form()
    if DEVICE_CODE_GRANT not in svc.config.oauth2.grant_types:
        raise UnsupportedGrantType("the device code grant is not enabled on this server")
    client, method = authenticate_client(
        svc.clients, request.headers.get("Authorization", ""), form
    )
    check_grant_policy(
        svc,
        TokenRequest(form=form, client=client, auth_method=method, grant_type=DEVICE_CODE_GRANT),
    )
    requested = form.get("scope", sc.OPENID)
    if sc.OPENID not in requested.split():
        raise InvalidScope("the openid scope is required")
    scopes = sc.parse(requested)
    now = svc.clock.now()
    lifetime = svc.config.expiry.device_requests
    device_code = new_device_code()
    for _ in range(_USER_CODE_TRIES):
        user_code = new_user_code()
        try:
            svc.storage.create_device_request(
                DeviceRequest(
                    id=device_code_id(device_code),
                    user_code=user_code,
                    client_id=client.id,
                    scopes=scopes,
                    expiry=now + lifetime,
                    interval=POLL_INTERVAL,
                )
            )
            break
        except AlreadyExistsError:
            continue
    else:
        raise ServerError("could not allocate a user code; please retry")
    shown = display_user_code(user_code)
    verification_uri = svc.url("/device")
    return json_response(
        {
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={shown}",
            "expires_in": int(lifetime.total_seconds()),
            "interval": POLL_INTERVAL,
        }
    )
