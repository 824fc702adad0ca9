"""The last drift reports as Prometheus gauges, asked at scrape time (portal.metrics.add_scrape_collector):

- `cancer_alpha_drift_share{model,version}`: the share of features drifting (0..1) in the recent uploads of
  each model's production version (portal.monitoring.drift, DEFAULT_DAYS);
- `cancer_alpha_drift_features{model,version,verdict}`: how many features drift, with the verdict.

A model with nothing compared (no uploads in the window) has no sample. Scrapes come every 15 s: the reports
come from the portal's drift cache and are computed again only when stale (its TTL) or when the uploads
changed, at most one computation per version at a time (the cache's lock). A failure is logged and leaves
the other metrics standing."""
from __future__ import annotations

import logging

import flask
from prometheus_client.core import GaugeMetricFamily

from portal.core import context
from portal.core.context import Portal
from portal.metrics import add_scrape_collector
from portal.monitoring import drift
from portal.monitoring.promql import DRIFT_FEATURES, DRIFT_SHARE

log = logging.getLogger(__name__)


class DriftCollector:
    def __init__(self, portal: Portal, days: int = drift.DEFAULT_DAYS):
        self.portal, self.days = portal, days

    def describe(self):
        return []  # nothing is computed when the scrape registry takes the collector

    def collect(self):
        share = GaugeMetricFamily(DRIFT_SHARE, "Share of features drifting in recent uploads against the "
                                               "training samples", labels=["model", "version"])
        features = GaugeMetricFamily(DRIFT_FEATURES, "Features drifting in recent uploads, with the verdict",
                                     labels=["model", "version", "verdict"])
        try:
            reports = drift.all_drift(self.portal, self.days)
        except Exception:  # the scrape still answers with every other metric
            log.warning("drift metrics: not computed", exc_info=True)
            reports = []
        for report in reports:
            if report.share is None:
                continue
            share.add_metric([report.model, str(report.version)], report.share)
            features.add_metric([report.model, str(report.version), report.verdict], report.drifted_features)
        yield share
        yield features


def install(server: flask.Flask) -> None:
    add_scrape_collector(server, DriftCollector(server.extensions[context.EXTENSION]))
