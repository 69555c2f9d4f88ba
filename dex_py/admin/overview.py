"""``/admin``: the overview (``dex_py.management.overview``): health, version, connectors'
state, signing key ages, how many objects there are, and the last day's logins and failures
per hour as a chart drawn on the server (``charts``)."""

from __future__ import annotations

from markupsafe import Markup
from werkzeug import Response

from dex_py.admin.charts import Bucket, stacked_bars
from dex_py.admin.render import render_admin
from dex_py.management.overview import Activity, overview
from dex_py.services import services


def activity_chart(activity: Activity) -> Markup:
    buckets = [
        Bucket(hour.strftime("%H:00"), ok, bad)
        for hour, ok, bad in zip(activity.hours, activity.logins, activity.failures, strict=True)
    ]
    return stacked_bars(buckets, title="Logins in the last 24 hours")


def overview_view() -> Response:
    view = overview(services())
    activity = view.activity
    return render_admin(
        "admin/overview.html",
        section="admin.overview",
        view=view,
        counts=view.counts,
        login_chart=activity_chart(activity) if activity is not None else None,
        logins_ok=sum(activity.logins) if activity is not None else 0,
        logins_bad=sum(activity.failures) if activity is not None else 0,
    )
