"""Prometheus metrics (prometheus_client): requests and latency by route and status, predictions by
model, version and class, result-cache hits and misses, rate-limit rejections, and background jobs by
state (counted from the database when scraped). `/metrics` answers only with the metrics token or to
an allowed network.

Several gunicorn workers: with PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is imported, as
deploy/gunicorn.conf.py's environment does), the counters and histograms write to files in that folder,
one set per worker process, and every scrape sums them all (prometheus_client's MultiProcessCollector on a
fresh registry), so whichever worker answers, /metrics reports the whole pod. gunicorn.conf.py empties the
folder at start and drops a dead worker's live files. Without the variable each process reports its own.

Values computed at scrape time (jobs by state, queue backlog, drift) are not process metrics: they are
collectors asked by the worker that answers the scrape, added with `add_scrape_collector(server, collector)`
where `collector.collect()` yields prometheus_client metric families (e.g. GaugeMetricFamily). They work
the same in both modes and are never summed over workers."""
from __future__ import annotations

import collections
import hmac
import ipaddress
import os
import time

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
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

    def record_predictions(self, model: str, version: int, classes: list[str], hits: int, misses: int) -> None:
        for name, count in collections.Counter(classes).items():
            self.predictions.labels(model, str(version), name).inc(count)
        self.cache.labels("hit").inc(hits)
        self.cache.labels("miss").inc(misses)


METRICS = PortalMetrics()
SCRAPE_COLLECTORS = "cancer_alpha_scrape_collectors"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable


def multiprocess_dir() -> str | None:
    """The folder of the workers' metric files, or None when each process reports only itself."""
    return os.environ.get(MULTIPROCESS_DIR) or None


def add_scrape_collector(server: flask.Flask, collector) -> None:
    """Add a prometheus_client collector (an object whose `collect()` yields metric families) that this app's
    /metrics asks at every scrape: for values read from the database, Redis or a cache owned by the portal
    (jobs by state, drift, queue backlog) rather than counted as requests go by."""
    server.extensions[SCRAPE_COLLECTORS].append(collector)


class _Registered:
    """A registry's metrics as one collector, so a scrape registry can hold them beside the app's own."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


class JobsCollector:
    """Prediction runs by state, counted in the database at each scrape: one value for the whole
    deployment, whichever worker answers (a per-process gauge would be summed over workers)."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        with self.db.session() as session:
            counts = dict(session.execute(select(PredictionRun.status, func.count()).group_by(PredictionRun.status)).all())
        family = GaugeMetricFamily("cancer_alpha_background_jobs", "Prediction runs by state", labels=["state"])
        for state in RunStatus:
            family.add_metric([state], counts.get(state, 0))
        yield family


def scrape_registry(server: flask.Flask) -> CollectorRegistry:
    """A registry made for one scrape: every worker's process metrics (summed from the files) or this
    process's, then the app's scrape-time collectors."""
    scrape = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder:
        multiprocess.MultiProcessCollector(scrape, path=folder)
    else:
        scrape.register(_Registered(METRICS.registry))
    for collector in server.extensions[SCRAPE_COLLECTORS]:
        scrape.register(collector)
    return scrape


def install(server: flask.Flask, db, token: str | None, allowed_networks: str) -> None:
    server.extensions[SCRAPE_COLLECTORS] = [JobsCollector(db)]
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
        return flask.Response(generate_latest(scrape_registry(server)), mimetype=CONTENT_TYPE_LATEST)
