"""``/keys``: the signing keys (the one in use, the retired ones still published, the rotation
schedule and the published JWKS) and rotating now, through ``dex_py.management.keys``.
Private keys never appear."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin_api.auth import current_actor
from dex_py.admin_api.convert import to_json
from dex_py.admin_api.rest import json_response
from dex_py.management import keys as mk
from dex_py.services import services


def key_set_view() -> Response:
    return json_response(to_json(mk.key_set(services())))


def rotate_view() -> Response:
    kid = mk.rotate_now(services(), current_actor())
    return json_response({"kid": kid})
