"""The PromQL expressions the Monitoring page, the Grafana dashboard and the Prometheus alerts share, over the
portal's metrics (portal/metrics.py) and the drift collector's (portal.monitoring.drift_metrics). One place: a
change of a metric's name or labels is made here and every reader follows.

`RATE_WINDOW` is the range of every rate(): four scrapes at the usual 15 s interval and more, so one missed
scrape leaves no gap."""
from __future__ import annotations

from dataclasses import dataclass

RATE_WINDOW = "5m"


@dataclass(frozen=True)
class Query:
    title: str  # what the chart or panel shows
    unit: str  # the axis' unit: "requests/s", "s", "share", "samples", "jobs"
    expr: str


REQUESTS = "cancer_alpha_http_requests_total"
LATENCY_BUCKETS = "cancer_alpha_http_request_seconds_bucket"
PREDICTIONS = "cancer_alpha_predictions_total"
JOBS = "cancer_alpha_background_jobs"
DRIFT_SHARE = "cancer_alpha_drift_share"
DRIFT_FEATURES = "cancer_alpha_drift_features"

QUERIES: dict[str, Query] = {
    "request_rate": Query("Requests per second", "requests/s",
                          f"sum(rate({REQUESTS}[{RATE_WINDOW}]))"),
    "latency_p50": Query("Latency, median (p50)", "s",
                         f"histogram_quantile(0.5, sum by (le) (rate({LATENCY_BUCKETS}[{RATE_WINDOW}])))"),
    "latency_p99": Query("Latency, 99th percentile (p99)", "s",
                         f"histogram_quantile(0.99, sum by (le) (rate({LATENCY_BUCKETS}[{RATE_WINDOW}])))"),
    # 5xx answers as a share of all answers: 0 while no 5xx was ever counted (no such series yet), no value
    # without traffic (0/0), never a false 0 % or 100 %
    "error_rate": Query("Server errors (5xx share of requests)", "share",
                        f'(sum(rate({REQUESTS}{{status=~"5.."}}[{RATE_WINDOW}])) or vector(0)) '
                        f'/ sum(rate({REQUESTS}[{RATE_WINDOW}]))'),
    "predictions_by_class": Query("Samples predicted through the API per hour, by model and class", "samples",
                                  f"sum by (model, predicted_class) (increase({PREDICTIONS}[1h]))"),
    "jobs_by_state": Query("Prediction runs by state", "jobs", f"sum by (state) ({JOBS})"),
    "drift_share": Query("Share of features drifting, by model version", "share",
                         f"max by (model, version) ({DRIFT_SHARE})"),
}

# what the Monitoring page draws from Prometheus, in this order
TRAFFIC = ("request_rate", "latency_p50", "latency_p99", "error_rate")
