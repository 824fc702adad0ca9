"""Monitoring, for admins: the portal's traffic (request rate, latency p50 and p99, 5xx share) from Prometheus,
samples predicted and background jobs by state from the database, and drift of recent uploads against each
production model's training samples, with the thresholds marked and a banner when one is crossed. The
permission is checked on the server in the layout and in every callback."""
from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, dcc, html

from components import monitoring_figures as mf
from engine import drift as engine_drift
from pages.frame import page_denied
from portal.accounts.permissions import require
from portal.core import context
from portal.monitoring import activity, drift, prometheus_api
from portal.monitoring.promql import QUERIES, TRAFFIC

PERMISSION = "view_monitoring"
dash.register_page(__name__, path="/monitoring", name="Monitoring", order=85, permission=PERMISSION)

WINDOWS = {"1h": ("last hour", timedelta(hours=1)), "6h": ("last 6 hours", timedelta(hours=6)),
           "24h": ("last 24 hours", timedelta(days=1)), "7d": ("last 7 days", timedelta(days=7))}
DAYS = {1: "last day", 7: "last 7 days", 30: "last 30 days"}
GRAPH_CONFIG = {"displaylogo": False}


def _graph(figure, id_: str) -> dcc.Graph:
    return dcc.Graph(id=id_, figure=figure, config=GRAPH_CONFIG)


def layout(**_query):
    denied = page_denied(PERMISSION)
    if denied:
        return denied
    return html.Div([
        html.H1("Monitoring", className="h4"),
        html.Div(id="monitoring-banner"),
        dbc.Row([
            dbc.Col([dbc.Label("Traffic window", html_for="monitoring-window", className="small mb-0"),
                     dcc.Dropdown(id="monitoring-window", options=[{"label": v[0], "value": k} for k, v in WINDOWS.items()],
                                  value="6h", clearable=False)], md=3),
            dbc.Col([dbc.Label("Predictions, jobs and drift over", html_for="monitoring-days", className="small mb-0"),
                     dcc.Dropdown(id="monitoring-days", options=[{"label": v, "value": k} for k, v in DAYS.items()],
                                  value=drift.DEFAULT_DAYS, clearable=False)], md=3),
            dbc.Col(dbc.Button("Refresh", id="monitoring-refresh", color="secondary", outline=True, size="sm"),
                    md=2, className="d-flex align-items-end"),
        ], className="g-2 mb-3"),
        html.H2("Traffic", className="h5"),
        html.P("From Prometheus, over every portal process it scrapes.", className="small text-muted"),
        dcc.Loading(html.Div(id="monitoring-traffic"), delay_show=300),
        html.H2("Predictions and jobs", className="h5 mt-4"),
        dcc.Loading(html.Div(id="monitoring-activity"), delay_show=300),
        html.H2("Drift of recent inputs", className="h5 mt-4"),
        html.P(f"The valid uploads of the chosen days for each model's production version (the newest "
               f"{drift.MAX_SAMPLES:,} samples at most) against the version's training samples. A feature drifts "
               f"when its Benjamini-Hochberg adjusted p-value is below {engine_drift.ALPHA} and its PSI is at least "
               f"{engine_drift.PSI_MODERATE}; drift is major from {engine_drift.MAJOR_DRIFT_SHARE:.0%} of the "
               f"features. API requests store no values and are not compared.", className="small text-muted"),
        dcc.Loading(html.Div(id="monitoring-drift"), delay_show=300),
    ])


def _choice(value, choices: dict, what: str):
    """A control's value as the page offers it; a forged one is a 400."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value not in choices:  # lists are unhashable
        flask.abort(400, description=f"Not shown: choose a {what} the page offers.")
    return value


# --- traffic ---------------------------------------------------------------------------------------

def traffic_view(found: prometheus_api.Traffic) -> list:
    if found.message:
        return [dbc.Alert(found.message, color="secondary", id="monitoring-traffic-message")]
    graphs = []
    for name in TRAFFIC:
        query = QUERIES[name]
        series = [{"name": ", ".join(f"{k}={v}" for k, v in s.labels.items()) or query.title, "times": s.times,
                   "values": s.values} for s in found.series.get(name, [])]
        graphs.append(dbc.Col(_graph(mf.traffic_figure(query.title, query.unit, series), f"monitoring-{name}"), lg=6))
    return [dbc.Row(graphs, className="g-2")]


# --- predictions and jobs --------------------------------------------------------------------------

def activity_view(found: activity.Activity, days: int) -> list:
    window = DAYS[days]
    runs = mf.predictions_figure([asdict(c) for c in found.runs], "Samples predicted in web prediction runs",
                                 f"Finished runs' stored counts, by the {found.bucket} the run finished ({window}), "
                                 f"per model version and predicted class.", found.bucket)
    api = mf.predictions_figure([asdict(c) for c in found.api], "Samples predicted through the API",
                                f"From the audit trail ({window}), per model version: the API's audit entries do not "
                                f"hold the classes; Prometheus counts them (cancer_alpha_predictions_total).",
                                found.bucket)
    jobs = mf.jobs_figure(found.jobs.prediction_runs, found.jobs.notebook_runs,
                          f"Runs created in the {window}, by the state they are in now.")
    return [dbc.Row([dbc.Col(_graph(runs, "monitoring-run-predictions"), lg=6),
                     dbc.Col(_graph(api, "monitoring-api-predictions"), lg=6)], className="g-2"),
            dbc.Row(dbc.Col(_graph(jobs, "monitoring-jobs"), lg=6), className="g-2")]


# --- drift -----------------------------------------------------------------------------------------

def drift_banner(reports: list[drift.DriftReport]):
    worst = drift.worst(reports)
    if worst in (None, engine_drift.NO_DRIFT):
        return None
    crossed = [f"{r.ref} ({r.verdict}: {r.drifted_features} of {r.features} features)"
               for r in reports if r.verdict in (engine_drift.SOME_DRIFT, engine_drift.MAJOR_DRIFT)]
    return dbc.Alert([html.Strong(f"Input drift: {worst}. "), "Recent uploads differ from the training samples "
                      f"of {', '.join(crossed)}. See Drift of recent inputs below."],
                     color="danger" if worst == engine_drift.MAJOR_DRIFT else "warning", id="monitoring-drift-banner")


def _report_row(r: drift.DriftReport) -> html.Tr:
    share = "" if r.share is None else f"{r.share:.1%}"
    read = f"{r.samples:,} samples from {r.uploads} uploads" + (" (the newest only)" if r.capped else "")
    return html.Tr([html.Td(r.ref), html.Td(r.verdict or "not compared"), html.Td(share),
                    html.Td(f"{r.drifted_features} of {r.features}" if r.verdict else ""),
                    html.Td(read if r.verdict else ""), html.Td(r.note)])


def drift_view(reports: list[drift.DriftReport], kept_seconds: float) -> list:
    if not reports:
        return [dbc.Alert("No models are registered.", color="secondary")]
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("model version", "verdict", "features drifting",
                                                               "drifted", "compared", "note")])),
                       html.Tbody([_report_row(r) for r in reports])],
                      size="sm", bordered=False, hover=True, id="monitoring-drift-table")
    shares = mf.drift_share_figure([{"model": r.ref, "share": r.share, "verdict": r.verdict} for r in reports])
    features = [dbc.Col(_graph(mf.drift_features_figure(r.ref, r.verdict, r.top), f"monitoring-drift-{r.model}"), lg=6)
                for r in reports if r.verdict is not None]
    computed = max(r.computed_at for r in reports if r.computed_at)
    kept = html.P(f"Computed at {computed:%Y-%m-%d %H:%M} UTC; kept for {kept_seconds / 60:g} minutes unless an "
                  f"upload arrives or changes.", className="small text-muted")
    return [table, kept, _graph(shares, "monitoring-drift-share"), dbc.Row(features, className="g-2")]


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("monitoring-traffic", "children"), Input("monitoring-window", "value"),
                  Input("monitoring-refresh", "n_clicks"))
    def traffic(window, _clicks):
        require(PERMISSION)
        _, span = WINDOWS[_choice(window, WINDOWS, "traffic window")]
        return traffic_view(prometheus_api.traffic(context.get().settings.prometheus_url, span))

    @app.callback(Output("monitoring-activity", "children"), Input("monitoring-days", "value"),
                  Input("monitoring-refresh", "n_clicks"))
    def predictions_and_jobs(days, _clicks):
        require(PERMISSION)
        days = _choice(days, DAYS, "number of days")
        return activity_view(activity.activity(context.get().db, days), days)

    @app.callback(Output("monitoring-drift", "children"), Output("monitoring-banner", "children"),
                  Input("monitoring-days", "value"), Input("monitoring-refresh", "n_clicks"))
    def input_drift(days, _clicks):
        require(PERMISSION)
        portal = context.get()
        reports = drift.all_drift(portal, _choice(days, DAYS, "number of days"))
        return drift_view(reports, portal.caches.drift.ttl), drift_banner(reports)
