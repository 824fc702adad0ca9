"""Prometheus metrics (prometheus_client): requests and latency by route and status, predictions by
model, version and class, result-cache hits and misses, rate-limit rejections, and background jobs by
state (counted from the database when scraped). `/metrics` answers only with the metrics token or to
an allowed network. Counters are per process: under several gunicorn workers each scrape sees one
worker, unless prometheus_client's multiprocess mode is set up (PROMETHEUS_MULTIPROC_DIR)."""
from __future__ import annotations

import collections
import hmac
import ipaddress
import time

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from portal.accounts.api_keys import bearer_token
from portal.core.errors import json_error
from portal.core.models import PredictionRun
from portal.core.states import RunStatus


class PortalMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("cancer_alpha_http_requests_total", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("cancer_alpha_http_request_seconds", "HTTP request latency", ["route", "method"],
                                 buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.predictions = Counter("cancer_alpha_predictions_total", "Samples predicted through the API",
                                   ["model", "version", "predicted_class"], registry=self.registry)
        self.cache = Counter("cancer_alpha_result_cache_total", "API result cache lookups", ["outcome"],
                             registry=self.registry)
        self.rate_limited = Counter("cancer_alpha_rate_limit_rejections_total", "Requests refused by a rate limit",
                                    ["route"], registry=self.registry)
        self.jobs = Gauge("cancer_alpha_background_jobs", "Prediction runs by state", ["state"],
                          registry=self.registry)

    def record_predictions(self, model: str, version: int, classes: list[str], hits: int, misses: int) -> None:
        for name, count in collections.Counter(classes).items():
            self.predictions.labels(model, str(version), name).inc(count)
        self.cache.labels("hit").inc(hits)
        self.cache.labels("miss").inc(misses)


METRICS = PortalMetrics()


def install(server: flask.Flask, db, token: str | None, allowed_networks: str) -> None:
    networks = [ipaddress.ip_network(n.strip(), strict=False) for n in allowed_networks.split(",") if n.strip()]

    @server.before_request
    def _start_timer():
        flask.g.request_started = time.perf_counter()

    @server.after_request
    def _observe(response):
        started = flask.g.pop("request_started", None)
        rule = flask.request.url_rule.rule if flask.request.url_rule else "unmatched"
        if started is not None:
            METRICS.latency.labels(rule, flask.request.method).observe(time.perf_counter() - started)
        METRICS.requests.labels(rule, flask.request.method, str(response.status_code)).inc()
        if response.status_code == 429:
            METRICS.rate_limited.labels(rule).inc()
        return response

    @server.get("/metrics")
    def metrics():
        presented = bearer_token(flask.request.headers.get("Authorization")) or ""
        by_token = bool(token) and hmac.compare_digest(presented, token)
        try:
            address = ipaddress.ip_address(flask.request.remote_addr or "")
        except ValueError:
            address = None
        if not by_token and not (address is not None and any(address in n for n in networks)):
            return json_error(403, "metrics need the token or an allowed network")
        with db.session() as session:
            counts = dict(session.execute(select(PredictionRun.status, func.count()).group_by(PredictionRun.status)).all())
        for state in RunStatus:
            METRICS.jobs.labels(state).set(counts.get(state, 0))
        return flask.Response(generate_latest(METRICS.registry), mimetype=CONTENT_TYPE_LATEST)
