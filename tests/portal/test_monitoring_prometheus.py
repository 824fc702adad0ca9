"""The Monitoring page's Prometheus client against the real Prometheus (Debian's 2.42, /usr/bin/prometheus),
which scrapes a running portal (werkzeug, loopback) every second with the metrics token from a credentials file:
the page's PromQL (portal.monitoring.promql) answers with request rate, latency p50 and p99 and the 5xx share, the
drift gauge of a real upload reaches Prometheus, and the page draws the charts. Not configured, a closed port, a
Prometheus that never answers and a refused query each give a message, within the client's timeout.

The metrics token is made up; the upload holds real held-out TCGA samples with their first 40 features multiplied
by 3 (made up, to drift)."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from werkzeug.serving import make_server

from portal.monitoring import prometheus_api
from portal.monitoring.promql import QUERIES
from portal.predictions import runs
from tests.helpers import (DATA_USE, MODEL, app_with_test_users, email_of, held_out_frame, make_settings, sign_in,
                           user_of)
from tests.local_servers import free_port, stop, wait_for

PROMETHEUS = "/usr/bin/prometheus"
METRICS_TOKEN = "made-up-metrics-token-for-the-monitoring-test"


@pytest.fixture(scope="module")
def served(tmp_path_factory, models_root, tcga):
    """A portal that knows its Prometheus's address (chosen before either starts), whose /metrics takes only
    the token, holding one shifted upload of MODEL; served by werkzeug on a free loopback port."""
    tmp_path = tmp_path_factory.mktemp("portal")
    prometheus_port = free_port()
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root, metrics_token=METRICS_TOKEN,
                             metrics_allow="", prometheus_url=f"http://127.0.0.1:{prometheus_port}")
    app = app_with_test_users(settings)
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        frame = held_out_frame(tcga, portal.registry, labels=False)
        frame[frame.columns[1:41]] *= 3.0
        runs.save_upload(portal, user_of(portal, "researcher").id, "shifted.csv", frame.to_csv(index=False).encode(),
                         MODEL, data_use=DATA_USE)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"127.0.0.1:{server.server_port}", prometheus_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        portal.db.dispose()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, served):
    """The real Prometheus on the port the portal was told, scraping it every second; stopped by its PID."""
    _, target, port = served
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "metrics_token").write_text(METRICS_TOKEN + "\n")
    config = {"global": {"scrape_interval": "1s"},
              "scrape_configs": [{"job_name": "portal", "metrics_path": "/metrics",
                                  "authorization": {"type": "Bearer", "credentials_file": str(folder / "metrics_token")},
                                  "static_configs": [{"targets": [target]}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(folder / "prometheus.log", "w")
    process = subprocess.Popen([PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}",
                                f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={folder / 'data'}"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        client = prometheus_api.PrometheusClient(url)

        def up():
            assert process.poll() is None, (folder / "prometheus.log").read_text()[-3000:]
            now = datetime.now(timezone.utc)
            try:
                series = client.query_range('up{job="portal"}', now - timedelta(seconds=5), now, 1)
            except prometheus_api.PrometheusUnavailable:
                return False
            return any(v == 1 for s in series for v in s.values)
        wait_for(up, "Prometheus to scrape the portal")
        yield url
    finally:
        stop(process)
        log.close()


def _last(series) -> float | None:
    values = [v for s in series for v in s.values if v is not None]
    return values[-1] if values else None


def test_the_page_queries_answer_from_the_real_prometheus(prometheus):
    def counted():  # a rate needs two scrapes inside its window
        found = prometheus_api.traffic(prometheus, timedelta(minutes=5))
        return found if found.message is None and (_last(found.series["request_rate"]) or 0) > 0 else None
    found = wait_for(counted, "a request rate above 0 (the scrapes are requests)")
    assert set(found.series) == {"request_rate", "latency_p50", "latency_p99", "error_rate"}
    p50, p99 = _last(found.series["latency_p50"]), _last(found.series["latency_p99"])
    assert p50 is not None and p99 is not None and 0 < p50 <= p99 < 10
    assert _last(found.series["error_rate"]) == 0  # no 5xx answered
    assert all(s.times == sorted(s.times) for s in found.series["request_rate"])


def test_the_drift_gauge_reaches_prometheus(prometheus):
    client = prometheus_api.PrometheusClient(prometheus)

    def drift_series():
        now = datetime.now(timezone.utc)
        return client.query_range(QUERIES["drift_share"].expr, now - timedelta(seconds=30), now, 1)
    series = wait_for(drift_series, "cancer_alpha_drift_share")
    assert [s.labels for s in series] == [{"model": MODEL, "version": "1"}]  # the other model has no uploads
    assert 0.1 < _last(series) < 0.2  # 40 of 298 features drift: some drift


def test_the_page_draws_the_traffic_charts(served, prometheus):
    app = served[0]
    client = app.server.test_client()
    assert sign_in(client, email_of("admin")).status_code == 302
    body = {"output": "monitoring-traffic.children", "outputs": {"id": "monitoring-traffic", "property": "children"},
            "inputs": [{"id": "monitoring-window", "property": "value", "value": "1h"},
                       {"id": "monitoring-refresh", "property": "n_clicks", "value": None}],
            "changedPropIds": ["monitoring-window.value"]}
    text = client.post("/_dash-update-component", json=body).get_data(as_text=True)
    for name in ("request_rate", "latency_p50", "latency_p99", "error_rate"):
        assert f"monitoring-{name}" in text
    assert "monitoring-traffic-message" not in text


def test_a_refused_query_says_why(prometheus):
    now = datetime.now(timezone.utc)
    with pytest.raises(prometheus_api.PrometheusUnavailable, match="refused the query: .*parse error"):
        prometheus_api.PrometheusClient(prometheus).query_range("sum(", now - timedelta(minutes=1), now, 15)


def test_not_configured_unreachable_and_silent_prometheus_give_messages_in_bounded_time():
    assert prometheus_api.traffic(None, timedelta(hours=1)).message == prometheus_api.NOT_CONFIGURED
    assert "http:// or https://" in prometheus_api.traffic("file:///etc/passwd", timedelta(hours=1)).message
    closed = free_port()  # nothing listens there
    started = time.monotonic()
    found = prometheus_api.traffic(f"http://127.0.0.1:{closed}", timedelta(hours=1))
    assert "not reachable" in found.message and "CANCER_ALPHA_PROMETHEUS_URL" in found.message
    assert found.series == {} and time.monotonic() - started < prometheus_api.TIMEOUT + 1
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        found = prometheus_api.traffic(f"http://127.0.0.1:{silent.getsockname()[1]}", timedelta(hours=1), timeout=0.5)
        elapsed = time.monotonic() - started
    assert "not reachable" in found.message and "timed out" in found.message and elapsed < 1.5
