"""One notebook run: its verdict in plain sentences (components/notebook_verdict.py, from the run's
summary), what ran (notebook, parameters, who, when, how long), what it read (model version, artifact
sha256, data checksum, package versions), how it ended (the failing cell and its error), its HTML report
inside the portal (outputs only: the code is in the .ipynb), downloads of the .ipynb and the HTML (the same
report), and a rerun with the same parameters. A run still queued or running is shown again every 2 s
until it ends."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from flask_login import current_user

from components.notebook_verdict import verdict_sentences
from pages.frame import page_denied
from portal.accounts.permissions import allowed, require
from portal.core import context
from portal.core.states import RunStatus
from portal.jobs import states
from portal.notebooks import runs as notebook_runs
from portal.notebooks.access import notebook_run_or_abort
from portal.retention import notice

dash.register_page(__name__, path_template="/notebooks/runs/<run_id>", name="Notebook run",
                   permission="view_notebooks", in_nav=False)


ACTIVE = RunStatus.active()


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _facts(run, owner: str) -> dbc.Table:
    rows = [
        ("Notebook", run.notebook), ("Status", run.status), ("Run by", owner),
        ("Parameters", ", ".join(f"{k} = {v!r}" for k, v in notebook_runs.shown_parameters(run).items())),
        ("Queued", _when(run.created_at)), ("Started", _when(run.started_at)), ("Ended", _when(run.finished_at)),
        ("Duration", f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "-"),
        ("Model version", f"{run.model_name}:{run.model_version}" if run.model_name else "-"),
        ("Artifact sha256", run.artifact_sha256 or "-"), ("Data checksum", run.data_checksum or "-"),
        ("Packages", ", ".join(f"{k} {v}" for k, v in (run.package_versions or {}).items())),
    ]
    return dbc.Table([html.Tbody([html.Tr([html.Th(k, className="w-25"), html.Td(v)]) for k, v in rows])],
                     bordered=False, size="sm", className="small", id="notebook-run-facts")


def _view(run) -> html.Div:
    owner = states.owner_email(context.get(), run.user_id)
    base = f"/notebook-runs/{run.id}"
    actions = []
    if run.html_path:
        actions.append(dbc.Button("Download HTML", href=f"{base}/download/html", external_link=True,
                                  color="primary", outline=True, size="sm", className="me-2", id="notebook-run-html"))
    if run.output_path:
        actions.append(dbc.Button("Download .ipynb", href=f"{base}/download/ipynb", external_link=True,
                                  color="primary", outline=True, size="sm", className="me-2", id="notebook-run-ipynb"))
    if allowed(current_user.role, "run_notebooks"):
        actions.append(dbc.Button("Rerun with these parameters", href=f"/notebooks?rerun={run.id}",
                                  color="secondary", size="sm", id="notebook-run-rerun"))
    verdict = verdict_sentences(run.notebook, notebook_runs.summary_of(run))
    status_note = {RunStatus.DONE: dbc.Alert([html.P(sentence, className="mb-1") for sentence in verdict],
                                             color="info", id="notebook-run-verdict") if verdict else None,
                   RunStatus.FAILED: dbc.Alert([html.Strong("The notebook failed. "), run.error or ""],
                                               color="danger", id="notebook-run-error")}
    return html.Div([
        status_note.get(run.status, dbc.Alert(f"This run is {run.status}.", color="secondary",
                                              id="notebook-run-status")),
        _facts(run, owner),
        html.Div(actions, className="mb-3"),
        html.Iframe(src=f"{base}/report", id="notebook-run-report", title=f"{run.notebook} report",
                    sandbox="allow-scripts allow-popups",
                    style={"width": "100%", "height": "80vh", "border": "1px solid #dee2e6"})
        if run.html_path else html.P(notice.notebook_run_gone(run) if run.purged_at else "This run has no report.",
                                     className="text-muted", id="notebook-run-no-report"),
    ])


def layout(run_id: str | None = None, **_query):
    denied = page_denied("view_notebooks")
    if denied:
        return denied
    run = notebook_run_or_abort(run_id)
    return html.Div([
        html.H1(f"Notebook run {run.id[:8]}", className="h4"),
        html.Div(_view(run), id="notebook-run-content"),
        dcc.Store(id="notebook-run-id", data=run.id),
        # a run still going is shown again every 2 s until it ends
        dcc.Interval(id="notebook-run-poll", interval=2000, disabled=run.status not in ACTIVE),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("notebook-run-content", "children"), Output("notebook-run-poll", "disabled"),
                  Input("notebook-run-poll", "n_intervals"), State("notebook-run-id", "data"),
                  prevent_initial_call=True)
    def refresh(_ticks, run_id):
        require("view_notebooks")
        run = notebook_run_or_abort(run_id)
        return _view(run), run.status not in ACTIVE
