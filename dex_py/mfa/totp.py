"""Time-based one-time passwords (RFC 6238, on ``pyotp``'s RFC 4226 HOTP): 6 digits, SHA-1,
30-second steps, as every authenticator app does by default.

A code is accepted for the current step and one step either side (RFC 6238 §5.2 allows for
clock drift and typing time); which step it matched is returned, so the caller can refuse a
step that was used already (RFC 6238 §5.2: a verifier must not accept the second attempt of the
same OTP). The enrolment QR code (the ``otpauth://`` key URI that apps scan) is rendered here,
server-side, as SVG (``segno``): the secret never goes to another service.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of the current one


def new_secret() -> str:
    """A fresh shared secret: 160 random bits in base32 (RFC 4226 §4 recommends 160)."""
    return pyotp.random_base32()


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of time step ``step`` (tests and the manage page's checks use it too)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within ±``WINDOW`` of ``now`` whose code is ``code``, or ``None``."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit() or not secret:
        return None
    current = step_at(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # compare every candidate, in constant time, whatever matched first
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found


def key_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/`` URI authenticator apps import (Google Authenticator's Key Uri
    Format): label ``issuer:account``, with the ``issuer`` parameter too."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The key URI as an SVG QR code in a ``data:`` URI for an ``<img>`` (error correction M,
    4 px modules): the page never embeds markup, and the CSP allows ``data:`` images."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=4, dark="#000", light="#fff"))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
