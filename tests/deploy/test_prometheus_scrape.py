"""The real Prometheus (Debian's 2.42, /usr/bin/prometheus) scrapes a running portal on loopback with the
metrics token from a credentials file, as the compose stack's does: the portal's target is up, a request
counter rises, the alert rules load, and the Celery workers a real `celery -A portal.worker worker` announces
in Redis (database 10) reach Prometheus through /metrics, and leave it when the worker stops."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import redis
import requests
import yaml
from werkzeug.serving import make_server

from portal.jobs import queue_metrics, worker_heartbeat
from tests.deploy.prometheus_tools import METRICS_TOKEN, PROMETHEUS_DIR, REDIS, ROOT
from tests.helpers import app_with_test_users, make_settings
from tests.local_servers import free_port, stop, wait_for

PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture(scope="module")
def store():
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(scope="module")
def portal(tmp_path_factory, models_root, store):
    """A portal with Redis (database 10) and a metrics token, served by werkzeug on a free loopback port."""
    tmp_path = tmp_path_factory.mktemp("portal")
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root, redis_url=REDIS,
                             metrics_token=METRICS_TOKEN)
    app = app_with_test_users(settings)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield settings, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    app.server.extensions["cancer_alpha"].db.dispose()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, portal):
    """The real Prometheus, scraping the portal every second with the token from a file, and the alert rules
    loaded beside it; stopped by its PID."""
    _, portal_url = portal
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "metrics_token").write_text(METRICS_TOKEN + "\n")
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", folder)
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": ["alerts.yml"],
              "scrape_configs": [{"job_name": "portal", "metrics_path": "/metrics",
                                  "authorization": {"type": "Bearer",
                                                    "credentials_file": str(folder / "metrics_token")},
                                  "static_configs": [{"targets": [portal_url.removeprefix("http://")]}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(folder / "prometheus.log", "w")
    process = subprocess.Popen([PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}",
                                f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={folder / 'data'}"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready():
            assert process.poll() is None, (folder / "prometheus.log").read_text()[-3000:]
            try:
                return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(ready, "Prometheus to be ready")
        yield url
    finally:
        stop(process)
        log.close()


def _query(prometheus_url: str, expr: str) -> list[dict]:
    answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _value(prometheus_url: str, expr: str) -> float | None:
    result = _query(prometheus_url, expr)
    return float(result[0]["value"][1]) if result else None


def test_the_portal_target_is_up(prometheus):
    wait_for(lambda: _value(prometheus, 'up{job="portal"}') == 1, 'up{job="portal"} == 1')
    (target,) = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    assert target["health"] == "up" and target["lastError"] == ""


def test_a_request_counter_rises(prometheus, portal):
    _, portal_url = portal
    counted = 'sum(cancer_alpha_http_requests_total{route="/api/v1/health",method="GET",status="200"})'
    wait_for(lambda: _value(prometheus, 'up{job="portal"}') == 1, 'up{job="portal"} == 1')
    before = _value(prometheus, counted) or 0
    for _ in range(5):
        assert requests.get(f"{portal_url}/api/v1/health", timeout=10).status_code == 200
    wait_for(lambda: (_value(prometheus, counted) or 0) >= before + 5, "the health counter to rise by 5")


def test_the_alert_rules_load_in_prometheus(prometheus):
    groups = wait_for(lambda: requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"],
                       "the rule groups")
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 7 and all(rule["health"] != "err" for rule in rules), rules


def test_heartbeats_and_backlog_reach_prometheus(prometheus, store):
    client = worker_heartbeat.connect(REDIS)
    worker_heartbeat.beat(client, "celery@made-up-a")
    worker_heartbeat.beat(client, "celery@made-up-b")
    store.rpush("celery", "one", "two", "three")
    try:
        wait_for(lambda: _value(prometheus, "cancer_alpha_celery_workers") == 2, "two workers in Prometheus")
        wait_for(lambda: _value(prometheus, 'cancer_alpha_queue_backlog{queue="celery"}') == 3, "a backlog of 3")
        store.delete(worker_heartbeat.heartbeat_key("celery@made-up-b"))  # as when its TTL runs out
        wait_for(lambda: _value(prometheus, "cancer_alpha_celery_workers") == 1, "one worker left")
    finally:
        store.delete("celery", *(worker_heartbeat.heartbeat_key(n) for n in ("celery@made-up-a", "celery@made-up-b")))


def test_a_real_celery_worker_is_counted_while_it_runs(prometheus, portal, tmp_path):
    settings, _ = portal
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_DATABASE_URL": settings.database_url,
           "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir), "CANCER_ALPHA_REDIS_URL": REDIS,
           "CANCER_ALPHA_SECRET_KEY": settings.secret_key, "CANCER_ALPHA_DATA_DIR": str(settings.data_dir)}
    wait_for(lambda: _value(prometheus, "cancer_alpha_celery_workers") == 0, "no worker before the test")
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal.worker", "worker", "--pool=solo",
                                   "-n", "heartbeat-test@%h", "--loglevel=INFO", "--without-heartbeat",
                                   "--without-gossip", "--without-mingle"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            def counted():
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                return _value(prometheus, "cancer_alpha_celery_workers") == 1
            wait_for(counted, "the worker in Prometheus", seconds=90)  # the worker builds a whole portal first
        finally:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: the heartbeat step deletes its key
            worker.wait(timeout=30)
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]
    # gone at once, not after its TTL: the heartbeat step deleted the key as the worker stopped
    assert queue_metrics.count_workers(worker_heartbeat.connect(REDIS)) == 0
    wait_for(lambda: _value(prometheus, "cancer_alpha_celery_workers") == 0, "the stopped worker to leave")
