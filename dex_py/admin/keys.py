"""``/admin/keys``: the signing keys (the one signing, the retired ones still published), the
JWKS the issuer publishes, and rotating now (``dex_py.management.keys``)."""

from __future__ import annotations

import json

from flask import redirect, url_for
from werkzeug import Response

from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.render import confirmed, render_admin
from dex_py.management import keys as ops
from dex_py.services import services

SECTION = "admin.keys"


def list_view() -> Response:
    keyset = ops.key_set(services())
    return render_admin(
        "admin/keys.html",
        section=SECTION,
        keyset=keyset,
        jwks=json.dumps(keyset.jwks, indent=2),
        notice=forms.notice(),
    )


def rotate_view() -> Response:
    def rotate() -> Response:
        ops.rotate_now(services(), current_admin().actor)
        return redirect(url_for(SECTION, done="rotated"), code=303)

    return confirmed(
        rotate,
        section=SECTION,
        title="Rotate the signing key now?",
        message="A new key signs every token from now on. The current key stays published "
        "until the tokens it signed have expired, so nothing issued so far stops working.",
        button="Rotate now",
        cancel_url=url_for(SECTION),
    )
