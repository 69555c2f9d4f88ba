"""``/admin/keys``: the signing keys (the one signing, the retired ones still published) and
the JWKS the issuer publishes."""

from __future__ import annotations

import json

from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.jose.keys import key_infos
from dex_py.services import services
from dex_py.storage.base import NotFoundError

SECTION = "admin.keys"


def list_view() -> Response:
    svc = services()
    now = svc.clock.now()
    try:
        keys = key_infos(svc.storage.get_keys(), now)
    except NotFoundError:
        keys = []
    jwks = json.dumps(json.loads(svc.keys.jwks_json()), indent=2)
    return render_admin(
        "admin/keys.html",
        section=SECTION,
        keys=keys,
        jwks=jwks,
        now=now,
        rotation=svc.config.expiry.signing_keys,
    )
