"""One prediction run's results: a sortable, filterable table (a click opens a sample's explanation),
figures, metrics against the upload's own labels when it had them, and CSV or Parquet downloads.
A run still going shows its progress from the database, so a reload or a new sign-in finds it."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html, no_update
from flask_login import current_user

from components import prediction_figures as pf
from components.glossary import column
from components.layout import metric_card, not_allowed
from components.links import explain_href
from pages.frame import page_denied
from portal.accounts import audit
from portal.accounts.permissions import ADMIN, ROLES, allowed, require
from portal.core import context
from portal.core.states import RunAccess, RunStatus
from portal.predictions import exports, projection, reviews, runs, sharing
from portal.predictions.access import run_or_abort

dash.register_page(__name__, path_template="/runs/<run_id>", name="Run", permission="predict", in_nav=False)

GRID_COLUMNS = ["sample_id", runs.LABEL_COLUMN, "predicted_class", "confidence", "margin", "abstain",
                "out_of_distribution", "ood_score", "review"]
GRID_HEADERS = {  # field -> (header in words, the glossary term it is)
    "sample_id": ("Sample", None), runs.LABEL_COLUMN: ("True class (your file)", None),
    "predicted_class": ("Predicted class", None), "confidence": ("Confidence", "confidence"),
    "margin": ("Margin to the 2nd class", "margin"), "abstain": ("Below abstain threshold", "abstain threshold"),
    "out_of_distribution": ("Out of distribution", "out of distribution"),
    "ood_score": ("Distance to training", "distance to training"), "review": ("Review", None),
}


def _graph(figure, id_: str) -> dcc.Graph:
    return dcc.Graph(figure=figure, id=id_, config={"displaylogo": False})


def _grid_rows(frame, reviewed: dict | None = None) -> list[dict]:
    """The grid's rows; `review`: each sample's reviews in force (reviews.current_by_sample)."""
    shown = frame[[c for c in GRID_COLUMNS if c in frame]].copy()
    for name in ("confidence", "margin", "ood_score"):
        shown[name] = shown[name].round(4)
    reviewed = reviewed or {}
    shown["review"] = [reviews.grid_text(reviewed.get(str(s), [])) for s in shown["sample_id"]]
    return shown.to_dict("records")


def _summary_cards(run, frame, version) -> dbc.Row:
    n = len(frame)
    abstained, odd = int(frame["abstain"].sum()), int(frame["out_of_distribution"].sum())
    return dbc.Row([
        dbc.Col(metric_card("Samples", f"{n:,}", f"model {run.model_name}:{run.model_version}")),
        dbc.Col(metric_card("Below abstain threshold", f"{abstained:,}",
                            f"{abstained / n:.1%}; confidence < {version.abstain_threshold:.2f}")),
        dbc.Col(metric_card("Out of distribution", f"{odd:,}", f"{odd / n:.1%} unlike the training samples")),
        dbc.Col(metric_card("Held-out balanced accuracy", f"{version.headline_metrics['balanced_accuracy']:.3f}",
                            "of this model version")),
    ], className="g-2 mb-3")


def _label_section(summary: dict):
    agreement = summary.get("labels")
    if not agreement:
        return html.Div()
    recall = ", ".join(f"{c} {r:.2f}" for c, r in agreement["per_class_recall"].items() if r is not None)
    unknown = (f" {agreement['n_unknown_labels']} labels are not classes of this model and were left out"
               f" ({', '.join(agreement['unknown_labels'])})." if agreement["n_unknown_labels"] else "")
    return html.Div([
        html.H2("Against the labels in your file", className="h5 mt-4"),
        html.P(f"{agreement['n']} labelled samples: accuracy {agreement['accuracy']:.3f}, balanced accuracy "
               f"{agreement['balanced_accuracy']:.3f}. Recall per class: {recall}.{unknown}", id="run-label-metrics"),
        _graph(pf.label_confusion_figure(agreement), "run-label-confusion"),
    ])


def results_view(run) -> html.Div:
    portal = context.get()
    frame = runs.results(portal, run)
    model = runs.run_model(portal, run)
    version = model.version
    mapped = projection.run_projection(portal, run, model)
    ids, predicted = frame["sample_id"].astype(str).tolist(), frame["predicted_class"].tolist()
    return html.Div([
        _summary_cards(run, frame, version),
        html.Div([
            dbc.Button("Download CSV", id="run-download-csv", color="primary", outline=True, size="sm", className="me-2"),
            dbc.Button("Download Parquet", id="run-download-parquet", color="primary", outline=True, size="sm"),
            dcc.Download(id="run-download"),
        ], className="mb-2"),
        html.P("Click a row to open that sample's explanation.", className="small text-muted mb-1"),
        dag.AgGrid(id="run-grid", rowData=_grid_rows(frame, reviews.current_by_sample(portal, run)),
                   getRowId="params.data.sample_id",
                   columnDefs=[column(c, *GRID_HEADERS[c]) for c in GRID_COLUMNS if c in frame or c == "review"],
                   defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True},
                   columnSize="sizeToFit", dashGridOptions={"pagination": True, "paginationPageSize": 20},
                   style={"height": "560px"}),
        dbc.Row([
            dbc.Col(_graph(pf.predicted_class_counts_figure(predicted, frame["abstain"].tolist(), model.bundle.classes),
                           "run-class-counts"), lg=6),
            dbc.Col(_graph(pf.confidence_histogram_figure(frame["confidence"].tolist(), version.abstain_threshold),
                           "run-confidence"), lg=6),
        ], className="mt-3"),
        dbc.Row([
            dbc.Col(_graph(pf.confidence_ood_figure(ids, predicted, frame["confidence"].tolist(),
                                                    frame["ood_score"].tolist(), model.bundle.ood.threshold_,
                                                    version.abstain_threshold),
                           "run-confidence-ood"), lg=6),
            dbc.Col(_graph(pf.projection_figure(mapped.training_coordinates, mapped.training_labels,
                                                mapped.upload_coordinates, ids, predicted,
                                                mapped.explained_variance_ratio),
                           "run-projection"), lg=6),
        ], className="mt-3"),
        _label_section(run.summary or {}),
    ])


def progress_view(run) -> html.Div:
    return html.Div([
        dbc.Alert(f"This run is {run.status}.", color="info", id="run-status"),
        dbc.Progress(id="run-progress", value=0, max=100, striped=True, animated=True),
        dcc.Interval(id="run-poll", interval=1000),
        dcc.Location(id="run-reload", refresh=True),
    ])


def layout(run_id: str | None = None, **_query):
    denied = page_denied("predict")
    if denied:
        return denied
    try:
        run = runs.get_run(context.get(), run_id or "", current_user.id, current_user.role, RunAccess.READ)
    except runs.RunError as error:
        return not_allowed(str(error))
    header = html.Div([
        html.H1(f"Run {run.id[:8]}", className="h4"),
        html.P(f"Model {run.model_name}:{run.model_version} (artifact {run.artifact_sha256[:12]}), started "
               f"{run.created_at:%Y-%m-%d %H:%M UTC}.", className="small text-muted"),
        dcc.Store(id="run-id", data=run.id),
        dcc.Location(id="run-location", refresh="callback-nav"),
        sharing_view(run),
    ])
    if run.status == RunStatus.DONE:
        return html.Div([header, results_view(run)])
    if run.status in RunStatus.active():
        return html.Div([header, progress_view(run)])
    return html.Div([header, dbc.Alert(f"This run ended as {run.status}. {run.error or ''}", color="warning",
                                       id="run-status")])


# -- sharing: the owner (or an admin) shares the run read-only and revokes; a recipient reads who shared it --

def _share_list(shares) -> html.Div:
    if not shares:
        return html.P("Not shared: only you (and admins) can open this run.", className="small text-muted mb-1")
    return html.Ul([html.Li(f"{s.recipient}, by {s.granted_by} on {s.granted_at:%Y-%m-%d %H:%M} UTC")
                    for s in shares], className="small mb-1")


def _share_options(shares) -> list[dict]:
    return [{"label": s.recipient, "value": s.id} for s in shares]


def sharing_view(run) -> html.Div:
    portal = context.get()
    if run.user_id != current_user.id and current_user.role != ADMIN:
        return dbc.Alert(f"Shared with you by {sharing.owner_name(portal, run)}: read-only (you may open its "
                         f"results, explanations and downloads).", color="info", className="py-1 small",
                         id="run-shared-note")
    if not allowed(current_user.role, "share_runs"):
        return html.Div()
    shares = sharing.active_shares(portal, run.id, current_user.id, current_user.role)
    return dbc.Card(dbc.CardBody([
        html.H2("Share this run (read-only)", className="h6"),
        html.Div(_share_list(shares), id="run-share-list"),
        dbc.Row([
            dbc.Col(dbc.Input(id="run-share-emails", placeholder="e-mail addresses, separated by commas",
                              maxLength=4000, size="sm"), md=5),
            dbc.Col(dcc.Dropdown(id="run-share-role", placeholder="or everyone with a role",
                                 options=[{"label": f"everyone with role {r}", "value": r} for r in ROLES]), md=3),
            dbc.Col(dbc.Button("Share", id="run-share-submit", color="primary", size="sm"), md="auto"),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id="run-share-revoke-choice", placeholder="a share to revoke",
                                 options=_share_options(shares)), md=5),
            dbc.Col(dbc.Button("Revoke", id="run-share-revoke", color="danger", outline=True, size="sm"), md="auto"),
        ], className="g-2"),
        html.Div(id="run-share-message", className="mt-2"),
    ]), className="mb-3 no-print")


def _share_request(trigger, emails, role, share_id, run_id) -> tuple[str, str]:
    """Do what the sharing form asks; returns (message, colour). Forged values answer 4xx."""
    require("share_runs")
    run = run_or_abort(run_id, RunAccess.WRITE)  # owner or admin
    portal, who, role_of = context.get(), current_user.id, current_user.role
    if trigger == "run-share-revoke":
        if share_id is None:
            return "Choose a share to revoke.", "warning"
        if not isinstance(share_id, int) or isinstance(share_id, bool):
            flask.abort(400, description="run-share-revoke-choice must be a share id")
        sharing.revoke(portal, run.id, share_id, who, role_of)
        return "The share is revoked: its recipients can no longer open this run.", "success"
    if not isinstance(emails, (str, type(None))) or not isinstance(role, (str, type(None))):
        flask.abort(400, description="run-share-emails and run-share-role must be text")
    if not (emails or "").strip() and not role:
        return "Name users by e-mail address or choose a role, then press Share.", "warning"
    done = []
    if (emails or "").strip():
        made = sharing.share_with_users(portal, run.id, sharing.parse_emails(emails), who, role_of)
        done.append(f"{len(made)} new user{'s' if len(made) != 1 else ''}")
    if role:
        made_role = sharing.share_with_role(portal, run.id, role, who, role_of)
        done.append(f"everyone with role {role}" + ("" if made_role else " (already)"))
    return f"Shared with {' and '.join(done)}.", "success"


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("run-share-message", "children"), Output("run-share-list", "children"),
                  Output("run-share-revoke-choice", "options"), Output("run-share-revoke-choice", "value"),
                  Input("run-share-submit", "n_clicks"), Input("run-share-revoke", "n_clicks"),
                  State("run-share-emails", "value"), State("run-share-role", "value"),
                  State("run-share-revoke-choice", "value"), State("run-id", "data"), prevent_initial_call=True)
    def share(_share, _revoke, emails, role, share_id, run_id):
        try:
            message, colour = _share_request(dash.ctx.triggered_id, emails, role, share_id, run_id)
        except runs.RunError as error:  # an unknown address, a role that does not exist, a share gone
            message, colour = f"Not done: {error}.", "danger"
        shares = sharing.active_shares(context.get(), run_id, current_user.id, current_user.role)
        return (dbc.Alert(message, color=colour, className="py-1 small mb-0"), _share_list(shares),
                _share_options(shares), None)

    @app.callback(Output("run-progress", "value"), Output("run-progress", "label"), Output("run-reload", "href"),
                  Input("run-poll", "n_intervals"), State("run-id", "data"))
    def poll(_n, run_id):
        require("predict")
        run = run_or_abort(run_id)
        done = round(100 * run.progress_done / run.progress_total) if run.progress_total else 0
        label = f"{run.progress_done:,} of {run.progress_total:,}"
        return done, label, (f"/runs/{run.id}" if run.status not in RunStatus.active() else no_update)

    @app.callback(Output("run-location", "pathname"), Input("run-grid", "cellClicked"), State("run-id", "data"),
                  prevent_initial_call=True)
    def open_sample(cell, run_id):
        require("explain")
        sample = (cell or {}).get("rowId")
        if not sample:
            return no_update
        run_or_abort(run_id)
        return explain_href(run_id, sample)

    @app.callback(Output("run-download", "data"), Input("run-download-csv", "n_clicks"),
                  Input("run-download-parquet", "n_clicks"), State("run-id", "data"), prevent_initial_call=True)
    def download(_csv, _parquet, run_id):
        require("download")
        run = run_or_abort(run_id)
        frame = runs.results(context.get(), run)
        as_csv = dash.ctx.triggered_id == "run-download-csv"
        audit.record("download", target=run.id, details={"format": "csv" if as_csv else "parquet",
                                                         "samples": len(frame)})
        name = f"predictions-{run.model_name}-v{run.model_version}-{run.id[:8]}"
        if as_csv:
            return dcc.send_string(exports.results_csv(frame), f"{name}.csv")
        return dcc.send_bytes(exports.results_parquet(frame), f"{name}.parquet")
