"""My runs: the signed-in user's prediction runs (all runs for admins) and the runs shared with them
(marked with their owner), to reopen."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html
from flask_login import current_user

from components.glossary import column
from pages.frame import page_denied
from portal.accounts.permissions import ADMIN, require
from portal.core import context
from portal.predictions import sharing
from portal.predictions.access import run_or_abort

dash.register_page(__name__, path="/runs", name="My runs", order=6, permission="predict")


HEADERS = {  # field -> (header in words, the glossary term it is)
    "created": ("Started", None), "status": ("Status", None), "model": ("Model and version", None),
    "samples": ("Samples", None), "abstained": ("Below abstain threshold", "abstain threshold"),
    "out_of_distribution": ("Out of distribution", "out of distribution"), "owner": ("Owner", None),
    "shared_by": ("Shared", None),
}


def run_rows() -> list[dict]:
    portal = context.get()
    rows = []
    for run, owner in sharing.visible_runs(portal, current_user.id, current_user.role):
        summary = run.summary or {}
        rows.append({
            "run": run.id, "created": run.created_at.strftime("%Y-%m-%d %H:%M UTC"), "status": run.status,
            "model": f"{run.model_name}:{run.model_version}",
            "samples": f"{run.progress_done:,} of {run.progress_total:,}",
            "abstained": summary.get("abstain", ""), "out_of_distribution": summary.get("out_of_distribution", ""),
            "owner": run.user_id, "shared_by": f"shared by {owner}" if owner else "",
        })
    return rows


def layout(**_query):
    denied = page_denied("predict")
    if denied:
        return denied
    rows = run_rows()
    columns = ["created", "status", "model", "samples", "abstained", "out_of_distribution"]
    columns.append("owner" if current_user.role == ADMIN else "shared_by")
    return html.Div([
        html.H1("My runs" if current_user.role != ADMIN else "All runs", className="h4"),
        html.P("Click a run to open its results. Runs shared with you are read-only and name their owner.",
               className="small text-muted"),
        html.Div() if rows else dbc.Alert(["No runs yet. ", dcc.Link("Upload a cohort on Predict", href="/predict"),
                                            " to start one; runs others share with you appear here too."],
                                           color="light", id="runs-empty"),
        dag.AgGrid(id="runs-grid", rowData=rows, getRowId="params.data.run", columnDefs=[column(c, *HEADERS[c]) for c in columns],
                   defaultColDef={"sortable": True, "filter": True, "resizable": True}, columnSize="sizeToFit",
                   dashGridOptions={"pagination": True, "paginationPageSize": 25},
                   **({} if rows else {"style": {"display": "none"}})),
        dcc.Location(id="runs-location", refresh="callback-nav"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("runs-location", "pathname"), Input("runs-grid", "cellClicked"),
                  prevent_initial_call=True)
    def open_run(cell):
        require("predict")
        run_id = (cell or {}).get("rowId")
        if not run_id:
            return dash.no_update
        run_or_abort(run_id)  # owner, admin or a recipient of a share
        return f"/runs/{run_id}"
