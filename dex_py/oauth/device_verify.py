"""The device flow in the browser (RFC 8628 §3.3): the user-code page ``GET /device``, its form
``POST /device/auth/verify_code``, and ``GET /device/callback`` where the login ends.

A valid user code starts an ordinary authorization request for the device's client and scopes,
bound to this browser, whose redirect URI is our own ``/device/callback``: the user then goes
through the normal connector login, SSO and approval page (``authorize.continue_authorization``).
The approval page is shown for every device (§5.4, remote phishing), even when the SSO session
approved the client before, unless the operator skips it for the client (``skipApproval``, or
``oauth2.skipApprovalScreen`` for a confidential client).
Its ``state`` is ``<user code>.<random>``, and only its SHA-256 is kept on the device request,
so only the browser that entered the code can finish (or deny) it. The callback redeems the
authorization code itself (deleting it is the atomic claim), copies the identity onto the device
request, and shows "you may close this window"; a refusal marks the request denied.

Wrong codes are counted per browser and per address (``device_codes``), and refused with a
clear page once over the limit (§5.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import replace

from flask import request
from werkzeug import Response
from werkzeug.datastructures import MultiDict

from dex_py.errors import PageError
from dex_py.oauth import authorize, consent
from dex_py.oauth.authorize_context import AuthorizeContext
from dex_py.oauth.device_codes import display_user_code, normalize_user_code, wrong_code_limited
from dex_py.services import Services, services
from dex_py.storage.base import AuthCode, DeviceRequest, NotFoundError, Updater
from dex_py.web import browser, csrf
from dex_py.web.client_address import client_address
from dex_py.web.pages import render_page

log = logging.getLogger(__name__)

CSRF_PURPOSE = b"device:verify_code"
CALLBACK_PATH = "/device/callback"
_WRONG = "The code is wrong or has expired. Check the code shown on your device and try again."
_LIMITED = (
    "Too many wrong codes were entered from this browser or network. Please wait a few "
    "minutes and try again."
)


class _Unusable(Exception):
    """The device request is no longer waiting for this browser."""


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _form(secret: str, user_code: str = "", error: str = "", status: int = 200) -> Response:
    svc = services()
    return render_page(
        "device.html",
        status=status,
        post_url=svc.url("/device/auth/verify_code"),
        user_code=user_code,
        error=error,
        csrf_token=csrf.csrf_token(secret, CSRF_PURPOSE),
    )


def device_view() -> Response:
    """``GET /device``: the user-code form, pre-filled from ``?user_code=``."""
    secret, is_new = browser.ensure_browser_secret()
    code = normalize_user_code(request.args.get("user_code", ""))
    resp = _form(secret, display_user_code(code) if code else "")
    if is_new:
        browser.set_browser_cookie(resp, secret)
    return resp


def verify_code_view() -> Response:
    """``POST /device/auth/verify_code``: check the code, then log in as for ``/auth``."""
    svc = services()
    secret = browser.browser_secret()
    if not csrf.csrf_valid(secret, CSRF_PURPOSE, request.form.get("csrf_token", "")):
        raise PageError(400, "Invalid form", "The form has expired. Please reload the page.")
    binding = browser.binding_of(secret)
    remote = svc.config.web.client_remote_ip
    forwarded = request.headers.getlist(remote.header) if remote.header else []
    address = client_address(remote, request.remote_addr or "", forwarded)
    entered = request.form.get("user_code", "")[:64]
    if wrong_code_limited(svc, binding, address, count=False):
        return _form(secret, entered, _LIMITED, 429)
    req = _pending(svc, normalize_user_code(entered))
    if req is None:
        limited = wrong_code_limited(svc, binding, address, count=True)
        log.info("wrong device user code entered")
        return _form(secret, entered, _LIMITED if limited else _WRONG, 429 if limited else 400)
    client = svc.clients.get(req.client_id)
    if client is None:
        raise PageError(400, "Unknown client", "The application is not registered with us.")
    state = f"{req.user_code}.{secrets.token_urlsafe(32)}"
    now = svc.clock.now()

    def start(r: DeviceRequest) -> DeviceRequest:
        if r.status != "pending" or r.expiry <= now:
            raise _Unusable
        return replace(r, state_hash=_hash(state))

    try:
        svc.storage.update_device_request(req.id, start)
    except (_Unusable, NotFoundError):
        return _form(secret, entered, _WRONG, 400)
    # A PKCE challenge whose verifier nobody keeps: the code this login ends with can only be
    # claimed by ``/device/callback``, never redeemed at ``/token`` by whoever sees the URL.
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest())
    ctx = AuthorizeContext(
        params=MultiDict({"state": state, "code_challenge": challenge.rstrip(b"=").decode()}),
        svc=svc,
        client=client,
        redirect_uri=svc.url(CALLBACK_PATH),
        response_types=("code",),
        response_mode="query",
        scopes=req.scopes,
        # RFC 8628 §5.4: the user confirms every device, even when this session approved the
        # client before; unless the operator turned the approval page off for the client.
        force_approval=not consent.skips_approval(svc, client),
        notes={"code_challenge_method": "S256"},
    )
    return authorize.continue_authorization(ctx)


def _pending(svc: Services, user_code: str) -> DeviceRequest | None:
    if not user_code:
        return None
    try:
        req = svc.storage.get_device_request_by_user_code(user_code)
    except NotFoundError:
        return None
    if req.status != "pending" or req.expiry <= svc.clock.now():
        return None
    return req


_GONE = PageError(
    400,
    "Device login expired",
    "This device login is unknown, has expired or was already completed. Start again on your "
    "device.",
)


def callback_view() -> Response:
    """``GET /device/callback``: the authorization response of the login started above."""
    svc = services()
    state = request.args.get("state", "")
    user_code = state.partition(".")[0]
    try:
        req = svc.storage.get_device_request_by_user_code(user_code) if user_code else None
    except NotFoundError:
        req = None
    if req is None or not req.state_hash or not hmac.compare_digest(_hash(state), req.state_hash):
        raise _GONE
    client = svc.clients.get(req.client_id)
    client_name = (client.name if client else "") or req.client_id
    if request.args.get("error"):
        _finish(svc, req, state, lambda r: replace(r, status="denied"))
        return render_page("device_done.html", status=403, approved=False, client_name=client_name)
    code = _redeem(svc, req, request.args.get("code", ""))

    def approve(r: DeviceRequest) -> DeviceRequest:
        return replace(
            r,
            status="approved",
            claims=code.claims,
            connector_id=code.connector_id,
            connector_data=code.connector_data,
            auth_time=code.auth_time,
            session_id=code.session_id,
        )

    _finish(svc, req, state, approve)
    return render_page("device_done.html", approved=True, client_name=client_name)


def _redeem(svc: Services, req: DeviceRequest, value: str) -> AuthCode:
    """The authorization code of this login, claimed by deleting it (single use)."""
    if not value or len(value) > 256:
        raise _GONE
    try:
        code = svc.storage.get_auth_code(value)
    except NotFoundError:
        raise _GONE from None
    if (
        code.client_id != req.client_id
        or code.redirect_uri != svc.url(CALLBACK_PATH)
        or code.expiry <= svc.clock.now()
    ):
        raise _GONE
    try:
        svc.storage.delete_auth_code(value)
    except NotFoundError:
        raise _GONE from None
    return code


def _finish(svc: Services, req: DeviceRequest, state: str, change: Updater[DeviceRequest]) -> None:
    """Apply ``change`` if the request still waits for this browser's login."""
    now = svc.clock.now()

    def fn(r: DeviceRequest) -> DeviceRequest:
        if (
            r.status != "pending"
            or r.expiry <= now
            or not hmac.compare_digest(_hash(state), r.state_hash)
        ):
            raise _Unusable
        return change(r)

    try:
        svc.storage.update_device_request(req.id, fn)
    except (_Unusable, NotFoundError):
        raise _GONE from None
