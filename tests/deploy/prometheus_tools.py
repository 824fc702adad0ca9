"""What the Prometheus and Grafana tests share: promtool, the metric names a PromQL expression reads, and the
metric names a real portal's /metrics exports (a portal on the test Redis database 10, so the queue and
worker metrics are there too)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import redis

from tests.helpers import app_with_test_users, make_settings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
PROMTOOL = "/usr/bin/promtool"
REDIS = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/10"
METRICS_TOKEN = "made-up-metrics-token-for-tests"
PROMETHEUS_OWN = {"up"}  # written by Prometheus for every target

# PromQL words that look like names: operators, modifiers and grouping keywords
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: names not called as functions, once strings, label
    matchers, ranges and grouping lists are taken out."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", bare):  # not a number's unit (5m, 1e3)
        called = bare[match.end():].lstrip().startswith("(")
        if not called and match.group().lower() not in KEYWORDS:
            names.add(match.group())
    return names


def exported_metric_names(exposition: str) -> set[str]:
    """Every series name a scrape can hold: the samples present, and for each declared family the names its
    samples take (a labelled counter shows no sample before its first count)."""
    names = {re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group() for line in exposition.splitlines()
             if line and not line.startswith("#")}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.M):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                    "summary": ("_sum", "_count")}.get(kind, ("",))
        names |= {family.removesuffix("_total") + suffix for suffix in suffixes}
    return names


@pytest.fixture(scope="session")
def exported_names(tmp_path_factory, models_root) -> set[str]:
    """The names of a real scrape of a portal with Redis (database 10, flushed before and after), plus
    Prometheus' own. The drift collector's families are declared even with no model to compare."""
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    tmp_path = tmp_path_factory.mktemp("scraped-portal")
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root, redis_url=REDIS,
                             metrics_token=METRICS_TOKEN)
    app = app_with_test_users(settings)
    try:
        client = app.server.test_client()
        assert client.get("/api/v1/health").status_code == 200
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200
        names = exported_metric_names(scrape.get_data(as_text=True))
    finally:
        app.server.extensions["cancer_alpha"].db.dispose()
        store.flushdb()
    assert {"cancer_alpha_queue_backlog", "cancer_alpha_celery_workers"} <= names  # Redis was reached
    assert {"cancer_alpha_drift_share", "cancer_alpha_drift_features"} <= names  # the drift collector is wired
    return names | PROMETHEUS_OWN
