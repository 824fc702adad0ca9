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

from components import run_figures
from components.glossary import column
from components.layout import metric_card, not_allowed, run_cancelled
from components.links import explain_href
from pages.frame import page_denied
from portal import browser_values
from portal.accounts import audit
from portal.accounts.permissions import ADMIN, ROLES, allowed, require
from portal.core import context
from portal.core.states import RunAccess, RunStatus
from portal.jobs.callbacks import register_job
from portal.predictions import consent, exports, figure_store, pseudonyms, result_rows, runs, sharing, waiting
from portal.predictions.access import run_or_abort
from portal.retention import notice

dash.register_page(__name__, path_template="/runs/<run_id>", name="Run", permission="predict", in_nav=False)

GRID_HEADERS = {  # field -> (header in words, the glossary term it is)
    "sample_id": ("Sample", None), runs.LABEL_COLUMN: ("True class (your file)", None),
    "predicted_class": ("Predicted class", None), "confidence": ("Confidence", "confidence"),
    "margin": ("Margin to the 2nd class", "margin"), "abstain": ("Below abstain threshold", "abstain threshold"),
    "out_of_distribution": ("Out of distribution", "out of distribution"),
    "ood_score": ("Distance to training", "distance to training"), "review": ("Review", None),
}
GRID_BLOCK = 100  # rows the grid fetches from the server at a time
GRID_PAGE_SIZES = [20, 50, 100]
FIGURE_TABS = {  # stored figure -> (its tab's label, the graph's id); one tab is drawn at a time
    "class_counts": ("Predicted classes", "run-class-counts"), "confidence": ("Confidence", "run-confidence"),
    "confidence_ood": ("Confidence and distance", "run-confidence-ood"),
    "projection": ("Among the training samples", "run-projection"),
    "label_confusion": ("Against your labels", "run-label-confusion"),
}


def _graph(figure, id_: str) -> dcc.Graph:
    return dcc.Graph(figure=figure, id=id_, config={"displaylogo": False})


def _grid_column(field: str) -> dict:
    header, term = GRID_HEADERS[field]
    kind = "agNumberColumnFilter" if field in result_rows.NUMBER_FIELDS else "agTextColumnFilter"
    return column(field, header, term, filter=kind,
                  filterParams={"maxNumConditions": 2, "buttons": ["reset"], "debounceMs": 300})


def results_grid(run, fields: list[str]) -> dag.AgGrid:
    """The run's samples, paged, sorted and filtered on the server (portal.predictions.result_rows)."""
    return dag.AgGrid(
        id="run-grid", rowModelType="infinite", getRowId="params.data.sample_id",
        columnDefs=[_grid_column(f) for f in fields],
        defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
        columnSize="sizeToFit", style={"height": "560px"},
        dashGridOptions={"pagination": True, "paginationPageSize": GRID_PAGE_SIZES[0],
                         "paginationPageSizeSelector": GRID_PAGE_SIZES, "cacheBlockSize": GRID_BLOCK,
                         "maxBlocksInCache": 50, "infiniteInitialRowCount": min(GRID_BLOCK, run.progress_total)},
    )


def _summary_cards(run, version) -> dbc.Row:
    summary = run.summary or {}
    n = summary.get("n", run.progress_total)
    abstained, odd = summary.get("abstain", 0), summary.get("out_of_distribution", 0)
    return dbc.Row([
        dbc.Col(metric_card("Samples", f"{n:,}", f"model {run.model_name}:{run.model_version}")),
        dbc.Col(metric_card("Below abstain threshold", f"{abstained:,}",
                            f"{abstained / n:.1%}; confidence < {version.abstain_threshold:.2f}")),
        dbc.Col(metric_card("Out of distribution", f"{odd:,}", f"{odd / n:.1%} unlike the training samples")),
        dbc.Col(metric_card("Held-out balanced accuracy", f"{version.headline_metrics['balanced_accuracy']:.3f}",
                            "of this model version")),
    ], className="g-2 mb-3")


def figure_tabs(drawn: dict[str, dict]) -> dcc.Tabs:
    """The run's figures, one tab each: only the chosen one is drawn, so the page opens fast."""
    return dcc.Tabs(id="run-figure-tabs", value="class_counts", className="mt-3", children=[
        dcc.Tab(_graph(drawn[name], graph_id), label=label, value=name)
        for name, (label, graph_id) in FIGURE_TABS.items() if name in drawn])


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
               f"{agreement['balanced_accuracy']:.3f}. Recall per class: {recall}.{unknown} The tab "
               f"'Against your labels' below shows where they differ.", id="run-label-metrics"),
    ])


def results_view(run) -> html.Div:
    portal = context.get()
    version = portal.registry.get(run.model_name, run.model_version)
    drawn = figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
    return html.Div([
        _summary_cards(run, version),
        html.Div([
            dbc.Button("Download CSV", id="run-download-csv", color="primary", outline=True, size="sm", className="me-2"),
            dbc.Button("Download Parquet", id="run-download-parquet", color="primary", outline=True, size="sm"),
            dcc.Download(id="run-download"),
        ], className="mb-2"),
        html.P("Click a row to open that sample's explanation. Sort and filter by any column.",
               className="small text-muted mb-1"),
        results_grid(run, result_rows.fields(portal, run)),
        _label_section(run.summary or {}),
        figure_tabs(drawn),
    ])


RETRY = "run-retry"  # the prefix of the retry's background job (portal.jobs.callbacks.register_job)


def _may_change(run) -> bool:
    """The owner or an admin: who may share, cancel or retry a run (the services check again)."""
    return run.user_id == current_user.id or current_user.role == ADMIN


def _retry_hidden(stalled: bool, run) -> bool:
    return not (stalled and _may_change(run))


def progress_view(run) -> html.Div:
    """A run still going: its status in words and its progress, polled from the database; a run that no
    worker picked up offers its owner (or an admin) a retry."""
    portal = context.get()
    stalled = waiting.stalled(portal, run)
    return html.Div([
        dbc.Alert(waiting.status_words(portal, run), color="warning" if stalled else "info", id="run-status"),
        dbc.Progress(id="run-progress", value=0, max=100, striped=True, animated=True),
        html.Div([
            dbc.Button("Retry", id=f"{RETRY}-run", color="primary", size="sm", className="me-2"),
            dbc.Button("Stop the retry", id=f"{RETRY}-cancel", color="danger", outline=True, size="sm",
                       disabled=True),
            html.Div(id=f"{RETRY}-message", className="mt-2"),
        ], id="run-retry-box", className="mt-2 no-print", hidden=_retry_hidden(stalled, run)),
        html.Div([dbc.Progress(id=f"{RETRY}-progress"), html.Span(id=f"{RETRY}-progress-label")], hidden=True),
        dcc.Store(id=f"{RETRY}-queued"), dcc.Store(id=f"{RETRY}-finished"),
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
        html.H1(f"{run.name} (run {run.id[:8]})" if run.name else f"Run {run.id[:8]}", className="h4",
                id="run-title"),
        html.P(f"Model {run.model_name}:{run.model_version} (artifact {run.artifact_sha256[:12]}), started "
               f"{run.created_at:%Y-%m-%d %H:%M UTC}.", className="small text-muted"),
        html.P(f"Data-use basis: {consent.of_upload(context.get(), run.upload_id).words}.", id="run-data-use",
               className="small text-muted"),
        html.P(f"Sample ids: {pseudonyms.words(pseudonyms.of_upload(context.get(), run.upload_id))}.",
               id="run-pseudonymous", className="small text-muted"),
        dcc.Store(id="run-id", data=run.id),
        dcc.Location(id="run-location", refresh="callback-nav"),
        sharing_view(run),
    ])
    if run.purged_at is not None:  # retention or an erasure deleted its results: the record says so
        return html.Div([header, dbc.Alert(notice.run_gone(run), color="secondary", id="run-purged")])
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
    if not _may_change(run):
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
                  Output("run-status", "children"), Output("run-status", "color"), Output("run-retry-box", "hidden"),
                  Input("run-poll", "n_intervals"), State("run-id", "data"))
    def poll(_n, run_id):
        require("predict")
        portal, run = context.get(), run_or_abort(run_id)
        done = round(100 * run.progress_done / run.progress_total) if run.progress_total else 0
        label = f"{run.progress_done:,} of {run.progress_total:,}"
        reload = f"/runs/{run.id}" if run.status not in RunStatus.active() else no_update
        stalled = waiting.stalled(portal, run)
        return (done, label, reload, waiting.status_words(portal, run), "warning" if stalled else "info",
                _retry_hidden(stalled, run))

    register_job(app, RETRY, "predict", figure_store.predict_and_draw(run_figures.FORMAT, run_figures.draw),
                 runs.cancel_run,
                 lambda done, total: f"{done:,} of {total:,} samples", lambda: run_cancelled(RETRY),
                 may_start=runs.get_run)  # the run's owner or an admin, as the retry button checks

    @app.callback(Output(f"{RETRY}-queued", "data"), Output(f"{RETRY}-message", "children"),
                  Input(f"{RETRY}-run", "n_clicks"), State("run-id", "data"), prevent_initial_call=True)
    def retry(_clicks, run_id):
        require("predict")
        try:  # waiting.retry checks the owner (or an admin) and that the run is stalled
            run = waiting.retry(context.get(), run_id, current_user.id, current_user.role)
        except runs.RunError as error:
            if error.status != 409:  # not theirs, no such run, a forged id
                flask.abort(error.status, description=str(error))
            return no_update, dbc.Alert(f"Not retried: {error}.", color="warning", className="py-1 small mb-0")
        return run.id, dbc.Alert("Started again: this page follows it.", color="info", className="py-1 small mb-0")

    @app.callback(Output("run-grid", "getRowsResponse"), Input("run-grid", "getRowsRequest"),
                  State("run-id", "data"), prevent_initial_call=True)
    def grid_rows(request, run_id):
        require("predict")
        run = run_or_abort(run_id)
        try:
            rows, count = result_rows.block(result_rows.grid_table(context.get(), run), request)
        except runs.RunError as error:  # a forged request, or a run without results
            flask.abort(error.status, description=str(error))
        return {"rowData": rows, "rowCount": count}

    @app.callback(Output("run-location", "pathname"), Input("run-grid", "cellClicked"), State("run-id", "data"),
                  prevent_initial_call=True)
    def open_sample(cell, run_id):
        require("explain")
        sample = browser_values.event(cell, "run-grid.cellClicked").get("rowId")
        if not sample:
            return no_update
        run_or_abort(run_id)
        return explain_href(run_id, sample)

    @app.callback(Output("run-download", "data"), Input("run-download-csv", "n_clicks"),
                  Input("run-download-parquet", "n_clicks"), State("run-id", "data"), prevent_initial_call=True)
    def download(_csv, _parquet, run_id):
        require("download")
        run = run_or_abort(run_id)
        try:
            frame = runs.results(context.get(), run)
        except runs.RunError as error:  # purged (410), or a run without results (409)
            flask.abort(error.status, description=str(error))
        as_csv = dash.ctx.triggered_id == "run-download-csv"
        audit.record("download", target=run.id, details={"format": "csv" if as_csv else "parquet",
                                                         "samples": len(frame)})
        name = f"predictions-{run.model_name}-v{run.model_version}-{run.id[:8]}"
        if as_csv:
            return dcc.send_string(exports.results_csv(frame), f"{name}.csv")
        return dcc.send_bytes(exports.results_parquet(frame), f"{name}.parquet")
