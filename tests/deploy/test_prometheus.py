"""deploy/prometheus: the configuration passes `promtool check config`, the alert rules `promtool check rules`
and their unit tests `promtool test rules`; every alert has a test where it fires and one where it does not;
the drift alert's threshold is the engine's; and every metric the rules read is one the portal exports."""
from __future__ import annotations

import re
import shutil

import pytest
import yaml

from engine import drift
from portal.monitoring import promql
from tests.deploy.prometheus_tools import PROMETHEUS_DIR, exported_names, metric_names, promtool  # noqa: F401

ALERTS = PROMETHEUS_DIR / "alerts.yml"
SECRET_FILE = "/run/secrets/metrics_token"  # the compose secret Prometheus reads the portal's token from


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _alert(name: str) -> dict:
    return next(rule for rule in _rules() if rule["alert"] == name)


def test_the_rules_pass_promtool_check():
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in checked.stdout


def test_the_alerts_unit_tests_pass():
    tested = promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS_DIR)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_a_broken_rule_fails_the_check(tmp_path):
    broken = ALERTS.read_text().replace("max by (queue) (cancer_alpha_queue_backlog) > 100",
                                        "max by (queue) (cancer_alpha_queue_backlog > 100")
    assert broken != ALERTS.read_text()
    (tmp_path / "alerts.yml").write_text(broken)
    checked = promtool("check", "rules", str(tmp_path / "alerts.yml"))
    assert checked.returncode != 0
    assert "unclosed left parenthesis" in checked.stdout + checked.stderr


def test_the_unit_tests_catch_a_changed_threshold(tmp_path):
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace("(cancer_alpha_drift_share) >= 0.2",
                                                                    "(cancer_alpha_drift_share) > 0.2"))
    shutil.copy(PROMETHEUS_DIR / "alerts_test.yml", tmp_path)
    tested = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "alertname: ModelInputDrift" in tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_not_firing():
    cases = [case for test in yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
             for case in test["alert_rule_test"]]
    for rule in _rules():
        own = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in own), f"{rule['alert']} is never seen firing"
        assert any(not case["exp_alerts"] for case in own), f"{rule['alert']} is never seen quiet"


def test_every_alert_waits_and_says_what_happened():
    for rule in _rules():
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    assert {"PortalHighErrorRate", "PortalHighLatencyP99", "PortalTargetDown", "CeleryWorkerGone",
            "NoCeleryWorkers", "CeleryQueueBacklog", "ModelInputDrift"} == {rule["alert"] for rule in _rules()}


def test_the_drift_alert_fires_at_the_engines_major_drift_share():
    threshold = re.fullmatch(r".*>=\s*([0-9.]+)", _alert("ModelInputDrift")["expr"]).group(1)
    assert float(threshold) == drift.MAJOR_DRIFT_SHARE


@pytest.mark.parametrize(("alert", "query"), [("PortalHighErrorRate", "error_rate"),
                                              ("PortalHighLatencyP99", "latency_p99"),
                                              ("ModelInputDrift", "drift_share")])
def test_alerts_compare_the_monitoring_pages_expressions(alert, query):
    expr = _alert(alert)["expr"]
    assert re.fullmatch(re.escape(promql.QUERIES[query].expr) + r"\s*(>|>=)\s*[0-9.]+", expr), expr


def test_the_rules_read_only_metrics_the_portal_exports(exported_names):  # noqa: F811
    read = set().union(*(metric_names(rule["expr"]) for rule in _rules()))
    assert read and read - exported_names == set()


def test_the_metric_name_check_can_fail(exported_names):  # noqa: F811
    assert metric_names("sum(rate(cancer_alpha_http_request_total[5m]))") - exported_names == {
        "cancer_alpha_http_request_total"}


def _config() -> dict:
    return yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())


def test_the_config_scrapes_the_portal_with_the_secret_token():
    config = _config()
    assert config["rule_files"] == ["alerts.yml"]
    portal = next(job for job in config["scrape_configs"] if job["job_name"] == "portal")
    assert portal["metrics_path"] == "/metrics"
    assert portal["static_configs"] == [{"targets": ["portal:8050"]}]
    assert portal["authorization"] == {"type": "Bearer", "credentials_file": SECRET_FILE}


def test_the_config_passes_promtool_check_config(tmp_path):
    """promtool checks that the credentials file exists: the copy checked here reads a token file of the
    test's own in place of the compose secret, and holds alerts.yml beside it, as /etc/prometheus does."""
    token = tmp_path / "metrics_token"
    token.write_text("made-up-token\n")
    text = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    setting = f"credentials_file: {SECRET_FILE}"
    assert text.count(setting) == 1
    (tmp_path / "prometheus.yml").write_text(text.replace(setting, f"credentials_file: {token}"))
    shutil.copy(ALERTS, tmp_path)
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_check_config_fails_without_the_rules_or_the_token(tmp_path):
    shutil.copy(PROMETHEUS_DIR / "prometheus.yml", tmp_path)
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode != 0
    assert "alerts.yml" in checked.stdout + checked.stderr
    shutil.copy(ALERTS, tmp_path)
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode != 0
    assert SECRET_FILE in checked.stdout + checked.stderr
