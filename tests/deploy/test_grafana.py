"""deploy/grafana: the provisioned data source and dashboard provider, and the dashboard itself: it parses,
its panels have unique ids, a place on the grid and the provisioned data source, every query passes promtool
as an expression, reads only metrics the portal exports, and the Monitoring page's queries are its own."""
from __future__ import annotations

import json

import pytest
import yaml

from engine import drift
from portal.monitoring import promql
from tests.deploy.prometheus_tools import GRAFANA_DIR, exported_names, metric_names, promtool  # noqa: F401

DASHBOARD = GRAFANA_DIR / "dashboards" / "cancer-alpha.json"
PROVISIONING = GRAFANA_DIR / "provisioning"


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict]:
    return _dashboard()["panels"]


def _targets() -> list[tuple[dict, dict]]:
    return [(panel, target) for panel in _panels() for target in panel["targets"]]


def _data_source() -> dict:
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    return source


def test_the_data_source_is_the_compose_stacks_prometheus():
    source = _data_source()
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert source["uid"] == "cancer-alpha-prometheus"


def test_the_provider_loads_the_mounted_dashboards():
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "cancer-alpha.yml").read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"  # where compose mounts dashboards/


def test_the_dashboard_parses_with_unique_panel_ids():
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in _panels()]
    assert len(ids) >= 6 and len(ids) == len(set(ids))


def test_every_panel_has_a_place_on_the_grid_and_none_overlap():
    cells = set()
    for panel in _panels():
        place = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(place) and place["x"] + place["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(place["x"], place["x"] + place["w"])
                for y in range(place["y"], place["y"] + place["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_every_panel_and_query_uses_the_provisioned_data_source():
    uid = _data_source()["uid"]
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"]), panel["title"]


def _as_recording_rules(expressions: list[str]) -> str:
    rules = [{"record": f"dashboard:query_{number}", "expr": expr} for number, expr in enumerate(expressions)]
    return yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]})


def test_every_query_passes_promtool_as_an_expression(tmp_path):
    expressions = [target["expr"] for _, target in _targets()]
    (tmp_path / "queries.yml").write_text(_as_recording_rules(expressions))
    checked = promtool("check", "rules", str(tmp_path / "queries.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in checked.stdout


def test_a_broken_query_fails_the_check(tmp_path):
    expressions = [target["expr"] for _, target in _targets()] + ["sum(rate(cancer_alpha_http_requests_total[5m])"]
    (tmp_path / "queries.yml").write_text(_as_recording_rules(expressions))
    checked = promtool("check", "rules", str(tmp_path / "queries.yml"))
    assert checked.returncode != 0


def test_the_queries_read_only_metrics_the_portal_exports(exported_names):  # noqa: F811
    read = set().union(*(metric_names(target["expr"]) for _, target in _targets()))
    assert read - exported_names == set()
    assert {"cancer_alpha_http_requests_total", "cancer_alpha_http_request_seconds_bucket",
            "cancer_alpha_predictions_total", "cancer_alpha_drift_share", "cancer_alpha_background_jobs",
            "cancer_alpha_queue_backlog", "cancer_alpha_celery_workers"} <= read


@pytest.mark.parametrize("query", sorted(promql.QUERIES))
def test_the_monitoring_pages_queries_are_on_the_dashboard(query):
    assert promql.QUERIES[query].expr in {target["expr"] for _, target in _targets()}


def test_the_drift_panel_marks_the_engines_major_drift_share():
    (panel,) = [panel for panel, target in _targets() if target["expr"] == promql.QUERIES["drift_share"].expr]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [step["value"] for step in steps if step["value"] is not None] == [drift.MAJOR_DRIFT_SHARE]
