"""``/overview``: the operator's overview through ``dex_py.management.overview``: version,
storage health, object counts, connectors' state, signing keys, the last day's logins and
failures per hour, and the latest failures. A storage outage is reported in the answer
(``storage_ok: false``, the parts that need storage ``null``), not as an error."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin_api.convert import to_json
from dex_py.admin_api.rest import json_response
from dex_py.management.overview import overview
from dex_py.services import services


def overview_view() -> Response:
    return json_response(to_json(overview(services())))
