"""deploy/grafana/dex-py.json: every metric a panel queries is one dex-py exports, so the
dashboard cannot silently show "no data" after a rename; and Grafana can import it (datasource
input, unique panel ids, a query per panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from dex_py.ops import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dex-py.json"
# A metric name in PromQL: an identifier followed by a label matcher or a range.
_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "le"}


def exported_sample_names() -> set[str]:
    metrics._get_metrics()
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_count", "_sum"))
    return names


def queried_metrics(dashboard: dict) -> set[str]:
    found: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found.update(n for n in _METRIC.findall(target["expr"]) if n not in _PROMQL_WORDS)
    return found


def test_every_queried_metric_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = queried_metrics(dashboard)
    assert "http_requests_total" in queried and "dexpy_logins_total" in queried
    assert queried - exported_sample_names() == set()


def test_the_extractor_notices_an_unknown_metric() -> None:
    broken = {"panels": [{"targets": [{"expr": 'sum(rate(dex_no_such_metric{job="x"}[5m]))'}]}]}
    assert queried_metrics(broken) - exported_sample_names() == {"dex_no_such_metric"}


def test_grafana_can_import_it() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
