"""My runs: the signed-in user's prediction runs (all runs for admins) and the runs shared with them
(marked with their owner), to reopen, to name, to delete (their own), and to compare two side by side
(pages/run_compare.py). Every action checks on the server who may do it; the rows the browser sends back
are only read for their run ids."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html, no_update
from flask_login import current_user

from components.glossary import column
from components.links import run_href
from pages.frame import page_denied
from portal import browser_values
from portal.accounts.permissions import ADMIN, require
from portal.core import context
from portal.core.states import RunAccess, RunStatus
from portal.predictions import lifecycle, runs
from portal.predictions.access import run_or_abort
from portal.retention import notice

dash.register_page(__name__, path="/runs", name="My runs", order=6, permission="predict")


HEADERS = {  # field -> (header in words, the glossary term it is)
    "name": ("Run name", None), "filename": ("File", None), "model": ("Model and version", None),
    "samples": ("Samples", None), "status": ("Status", None), "created": ("Started", None),
    "abstained": ("Below abstain threshold", "abstain threshold"),
    "out_of_distribution": ("Out of distribution", "out of distribution"), "owner": ("Owner", None),
    "shared_by": ("Shared", None),
}
NO_NAME = "—"
PAGE_SIZES = [10, 25, 50, 100]


def run_rows() -> list[dict]:
    portal = context.get()
    rows = []
    for listed in lifecycle.listed_runs(portal, current_user.id, current_user.role):
        run, summary = listed.run, listed.run.summary or {}
        rows.append({
            "run": run.id, "name": run.name or "", "filename": listed.filename or "",
            "model": f"{run.model_name}:{run.model_version}",
            "samples": f"{run.progress_done:,} of {run.progress_total:,}",
            "status": notice.words(run.purge_reason, run.purged_at) if run.purged_at else run.status,
            "created": run.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            # a run without a summary yet shows blanks (None), not text in a column of numbers
            "abstained": summary.get("abstain"), "out_of_distribution": summary.get("out_of_distribution"),
            "owner": listed.owner, "shared_by": f"shared by {listed.shared_by}" if listed.shared_by else "",
            "writable": listed.writable,  # not shown: which buttons a row enables (the server checks again)
        })
    return rows


def empty_hint() -> dbc.Alert:
    return dbc.Alert(["No runs yet. ", dcc.Link("Upload a cohort on Predict", href="/predict"),
                      " to start one; runs others share with you appear here too."], color="light", id="runs-empty")


def _columns() -> list[dict]:
    fields = ["name", "filename", "model", "samples", "status", "created", "abstained", "out_of_distribution",
              "owner" if current_user.role == ADMIN else "shared_by"]
    columns = [column(f, *HEADERS[f]) for f in fields]
    columns[0]["valueFormatter"] = {"function": f"params.value ? params.value : '{NO_NAME}'"}
    return columns


def _actions() -> html.Div:
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Button("Compare", id="runs-compare", color="primary", size="sm", disabled=True), width="auto"),
            dbc.Col(dcc.ConfirmDialogProvider(
                dbc.Button("Delete", id="runs-delete-button", color="danger", outline=True, size="sm", disabled=True),
                id="runs-delete", message="Delete the selected run?"), width="auto"),
            dbc.Col(dbc.InputGroup([
                dbc.Input(id="runs-rename-name", placeholder="a name for the selected run (empty clears it)",
                          maxLength=runs.MAX_RUN_NAME, disabled=True),
                dbc.Button("Rename", id="runs-rename", color="secondary", outline=True, disabled=True),
            ], size="sm"), md=5),
        ], className="g-2 align-items-center mb-1"),
        html.P("Tick two finished runs to compare them, or one of your own to rename or delete it.",
               className="small text-muted mb-1", id="runs-selection-note"),
    ])


def layout(**_query):
    denied = page_denied("predict")
    if denied:
        return denied
    rows = run_rows()
    return html.Div([
        html.H1("My runs" if current_user.role != ADMIN else "All runs", className="h4"),
        html.P("Click a run to open its results. Runs shared with you are read-only and name their owner.",
               className="small text-muted"),
        html.Div(None if rows else empty_hint(), id="runs-empty-holder"),
        html.Div(_actions(), style=None if rows else {"display": "none"}),
        html.Div(id="runs-message"),
        dag.AgGrid(id="runs-grid", rowData=rows, getRowId="params.data.run", columnDefs=_columns(),
                   defaultColDef={"sortable": True, "filter": True, "resizable": True}, columnSize="sizeToFit",
                   dashGridOptions={"pagination": True, "paginationPageSize": 25,
                                    "paginationPageSizeSelector": PAGE_SIZES,
                                    "rowSelection": {"mode": "multiRow", "enableClickSelection": False},
                                    "domLayout": "autoHeight"},
                   **({} if rows else {"style": {"display": "none"}})),
        dcc.Location(id="runs-location", refresh="callback-nav"),
    ])


# What a selection enables, worked out in the browser (no server call); the server checks each action again.
SELECTION_JS = """
function(selected) {
    const rows = selected || [];
    const active = ["queued", "running"];
    const one = rows.length === 1 ? rows[0] : null;
    const compare = rows.length === 2 && rows.every(r => r.status === "done");
    const rename = !!(one && one.writable);
    const remove = rename && !active.includes(one.status);
    let message = "Delete the selected run?";
    if (one) {
        const what = one.name ? `"${one.name}"` : `run ${one.run.slice(0, 8)}`;
        message = `Delete ${what}${one.filename ? " (" + one.filename + ")" : ""}? Its results, shares and reviews ` +
                  "go, and its uploaded file unless another run uses it. This cannot be undone.";
    }
    return [!compare, !remove, !rename, !rename, message];
}
"""


def selected_run_ids(selected) -> list[str]:
    """The run ids of the grid's selected rows as the browser sent them (400 unless a list of rows that
    each carry a run id as text)."""
    if selected is None:
        return []
    if not isinstance(selected, list) or len(selected) > 200 or not all(
            isinstance(row, dict) and isinstance(row.get("run"), str) and row["run"] for row in selected):
        flask.abort(400, description="the selection must be a list of rows, each with a run id")
    return list(dict.fromkeys(row["run"] for row in selected))


def _alert(text: str, colour: str) -> dbc.Alert:
    return dbc.Alert(text, color=colour, dismissable=True, className="py-2 small", id="runs-message-alert")


def _described(run) -> str:
    return f'"{run.name}"' if run.name else f"run {run.id[:8]}"


def register_callbacks(app: dash.Dash) -> None:
    app.clientside_callback(SELECTION_JS, Output("runs-compare", "disabled"),
                            Output("runs-delete-button", "disabled"), Output("runs-rename", "disabled"),
                            Output("runs-rename-name", "disabled"), Output("runs-delete", "message"),
                            Input("runs-grid", "selectedRows"))

    @app.callback(Output("runs-location", "pathname"), Input("runs-grid", "cellClicked"),
                  prevent_initial_call=True)
    def open_run(cell):
        require("predict")
        cell = browser_values.event(cell, "runs-grid.cellClicked")
        run_id = cell.get("rowId")
        if not run_id or cell.get("colId") not in HEADERS:  # a click on a selection box opens nothing
            return no_update
        run_or_abort(run_id)  # owner, admin or a recipient of a share
        return run_href(run_id)

    @app.callback(Output("runs-location", "href"), Output("runs-message", "children"),
                  Input("runs-compare", "n_clicks"), State("runs-grid", "selectedRows"), prevent_initial_call=True)
    def compare(_clicks, selected):
        require("predict")
        ids = selected_run_ids(selected)
        if len(ids) != 2:
            return no_update, _alert("Tick exactly two runs to compare.", "warning")
        for run in (run_or_abort(run_id) for run_id in ids):  # each read by this user: 403 or 404 otherwise
            if run.status != RunStatus.DONE:
                return no_update, _alert(f"{_described(run)} is {run.status}: only finished runs compare.", "warning")
        return "/runs/compare?" + urlencode({"a": ids[0], "b": ids[1]}), None

    @app.callback(Output("runs-grid", "rowData"), Output("runs-message", "children", allow_duplicate=True),
                  Output("runs-empty-holder", "children"), Input("runs-delete", "submit_n_clicks"),
                  State("runs-grid", "selectedRows"), prevent_initial_call=True)
    def delete(_clicks, selected):
        require("predict")
        ids = selected_run_ids(selected)
        if len(ids) != 1:
            return no_update, _alert("Tick one run of yours to delete it.", "warning"), no_update
        portal = context.get()
        run = run_or_abort(ids[0], RunAccess.WRITE)  # its owner or an admin: 403 or 404 otherwise
        try:
            deleted = lifecycle.delete_run(portal, run.id, current_user.id, current_user.role)
        except runs.RunError as error:
            if error.status != 409:
                flask.abort(error.status, description=str(error))
            return no_update, _alert(str(error), "warning"), no_update
        upload = " and its uploaded file" if deleted.upload_removed else ""
        text = (f"Deleted {_described(run)}: its results{upload}, {deleted.shares} share(s) and "
                f"{deleted.reviews} review(s).")
        rows = run_rows()
        return rows, _alert(text, "success"), None if rows else empty_hint()

    @app.callback(Output("runs-grid", "rowData", allow_duplicate=True),
                  Output("runs-message", "children", allow_duplicate=True), Input("runs-rename", "n_clicks"),
                  State("runs-rename-name", "value"), State("runs-grid", "selectedRows"), prevent_initial_call=True)
    def rename(_clicks, name, selected):
        require("predict")
        ids = selected_run_ids(selected)
        if len(ids) != 1:
            return no_update, _alert("Tick one run of yours to rename it.", "warning")
        run_or_abort(ids[0], RunAccess.WRITE)  # its owner or an admin: 403 or 404 otherwise
        try:
            run = lifecycle.rename_run(context.get(), ids[0], name, current_user.id, current_user.role)
        except runs.RunError as error:  # the name: too long, or not text
            return no_update, _alert(str(error), "warning")
        text = f"Renamed run {run.id[:8]} to {_described(run)}." if run.name else f"Run {run.id[:8]} has no name now."
        return run_rows(), _alert(text, "success")
