"""The device code grant at ``/token`` (RFC 8628 §3.4, §3.5).

Each poll is one atomic update of the device request (under its row lock), so two polls at once
cannot both get the tokens: the first to see it approved marks it spent, and stores the refresh
token chain in the same transaction; the other then gets ``invalid_grant``. The answers:
``authorization_pending`` until the user has finished, ``slow_down`` when polled sooner than
``interval`` after the last poll (the interval then grows by 5 seconds and is stored),
``expired_token`` after ``expiry.deviceRequests``, ``access_denied`` when the user refused;
once approved, the same token response as the authorization code grant.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

from dex_py import revocation
from dex_py import scopes as sc
from dex_py.config.model import DEVICE_CODE_GRANT
from dex_py.errors import AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown
from dex_py.oauth import issuance
from dex_py.oauth.device_codes import device_code_id
from dex_py.oauth.grant_base import BaseGrant
from dex_py.oauth.policy import check_issue_policy
from dex_py.storage.base import DeviceRequest, NotFoundError, RefreshToken

SLOW_DOWN_STEP = 5  # seconds added to the interval by each slow_down (§3.5)


class _TooFast(Exception):
    pass


class DeviceCodeGrant(BaseGrant):
    grant_type = DEVICE_CODE_GRANT

    def respond(self) -> dict[str, Any]:
        device_code = self.require("device_code")
        if len(device_code) > 256:
            raise InvalidGrant("invalid device code")
        svc, client = self.svc, self.client
        now = svc.clock.now()
        too_fast: list[int] = []

        def poll(r: DeviceRequest) -> DeviceRequest:
            if r.client_id != client.id:
                raise InvalidGrant("device code was issued to another client")
            if r.status == "spent":
                raise InvalidGrant("device code already used")
            if r.expiry <= now:
                raise ExpiredToken("the device code has expired")
            if r.status == "denied":
                raise AccessDenied("the user denied the request")
            if r.last_poll is not None and now < r.last_poll + timedelta(seconds=r.interval):
                too_fast.append(r.interval + SLOW_DOWN_STEP)
                return replace(r, interval=r.interval + SLOW_DOWN_STEP, last_poll=now)
            return replace(r, status="spent" if r.status == "approved" else r.status, last_poll=now)

        issued: dict[str, Any] = {}

        def issue(r: DeviceRequest) -> RefreshToken | None:
            """In the transaction that marks the request spent: the policy checks and the
            refresh token chain (both written, or neither)."""
            if r.status != "spent":
                return None
            refresh_id = secrets.token_urlsafe(16) if sc.OFFLINE_ACCESS in r.scopes else ""
            grant = issuance.grant_of(r)
            if refresh_id:
                grant = replace(grant, grant_id=revocation.grant_id_of(refresh_id))
            check_issue_policy(svc, self.treq, grant)
            issued["grant"] = grant
            if not refresh_id:
                return None
            record, issued["refresh"] = issuance.refresh_token_record(svc, grant, now, refresh_id)
            return record

        try:
            req = svc.storage.redeem_device_request(device_code_id(device_code), poll, issue)
        except NotFoundError:
            raise InvalidGrant("invalid device code") from None
        if too_fast:
            raise SlowDown(f"polling too fast: wait {too_fast[0]} seconds between requests")
        if req.status != "spent":
            raise AuthorizationPending("the user has not finished yet")
        grant = issued["grant"]
        refresh = issued.get("refresh", "")
        return issuance.token_response(
            svc, grant, now, refresh_token=refresh, include_auth_time=True
        )
