"""Predict: choose a model version, download its template or an example of real held-out samples,
upload a cohort file, read the validation report, then run the prediction as a background job with
progress and cancel. The finished run opens on its results page (/runs/<id>)."""
from __future__ import annotations

import base64
import binascii

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from flask_login import current_user

from components import run_figures
from components.layout import run_cancelled
from components.validation_view import validation_report_view
from components.version_choices import EMPTY_REGISTRY, model_choice, version_options
from engine.registry import RegistryError
from pages.frame import page_denied
from portal.accounts.permissions import require
from portal.core import context
from portal.core.states import RunStatus, UploadStatus
from portal.jobs.callbacks import register_job
from portal.predictions import examples, figure_store, runs

dash.register_page(__name__, path="/predict", name="Predict", order=5, permission="upload")


def layout(model: str | None = None, **_query):
    denied = page_denied("upload")
    if denied:
        return denied
    names = context.get().registry.models()
    if not names:
        return html.P(EMPTY_REGISTRY)
    chosen = model_choice(names, model)
    limit_mb = context.get().settings.max_upload_bytes / 1024 / 1024
    return html.Div([
        html.H1("Predict", className="h4"),
        dbc.Row([
            dbc.Col([dbc.Label("Model"), dcc.Dropdown(id="predict-model", options=names, value=chosen,
                                                      clearable=False)], md=4),
            dbc.Col([dbc.Label("Version"), dcc.Dropdown(id="predict-version", clearable=False)], md=3),
            dbc.Col([dbc.Label("Files for this version"), html.Div([
                dbc.Button("Blank template", id="predict-template-button", color="secondary", outline=True,
                           size="sm", className="me-2"),
                dbc.Button("Example: real held-out samples", id="predict-example-button", color="secondary",
                           outline=True, size="sm"),
            ])], md=5),
        ], className="mb-2"),
        html.P(id="predict-version-note", className="small text-muted"),
        dcc.Download(id="predict-template-download"),
        dcc.Download(id="predict-example-download"),
        dcc.Upload(id="predict-upload", max_size=context.get().settings.max_upload_bytes, multiple=False,
                   children=html.Div([html.Strong("Drop a file here or click to choose one"), html.Br(),
                                      html.Span(f"CSV, TSV (also .gz) or Parquet; one sample a row; up to "
                                                f"{limit_mb:.0f} MB and {context.get().settings.max_rows:,} samples. "
                                                f"An optional column '{runs.LABEL_COLUMN}' holds known classes.",
                                                className="small text-muted")]),
                   className="border border-2 rounded p-4 text-center mb-3", style={"borderStyle": "dashed"}),
        dbc.Row([
            dbc.Col([dbc.Label("Run name (optional)", html_for="predict-run-name", className="small mb-0"),
                     dbc.Input(id="predict-run-name", maxLength=runs.MAX_RUN_NAME, size="sm",
                               placeholder="e.g. cohort 3, second batch")], md=4),
        ], className="mb-2"),
        html.Div([
            dbc.Button("Run prediction", id="predict-run", color="primary", disabled=True, className="me-2"),
            dbc.Button("Cancel", id="predict-cancel", color="danger", outline=True, disabled=True),
        ], className="mb-2"),
        dbc.Progress(id="predict-progress", value=0, max=100, striped=True, className="mb-1"),
        html.Div(id="predict-progress-label", className="small text-muted"),
        html.Div(id="predict-message", className="mt-2"),
        dcc.Loading(html.Div(id="predict-report", className="mt-3")),
        dcc.Store(id="predict-upload-id"),
        dcc.Store(id="predict-queued"),
        dcc.Store(id="predict-finished"),
        dcc.Location(id="predict-location", refresh="callback-nav"),
    ])


def _decode(contents: str) -> bytes:
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        raise runs.RunError("the upload arrived damaged; please try again") from None


def register_callbacks(app: dash.Dash) -> None:
    # the run's figures are drawn in its job, so its page opens at once (portal.predictions.figure_store)
    register_job(app, "predict", "predict", figure_store.predict_and_draw(run_figures.FORMAT, run_figures.draw),
                 runs.cancel_run,
                 lambda done, total: f"{done:,} of {total:,} samples", lambda: run_cancelled("predict"))

    @app.callback(Output("predict-version", "options"), Output("predict-version", "value"),
                  Input("predict-model", "value"))
    def versions(name):
        require("upload")
        registry = context.get().registry
        try:
            versions_ = registry.versions(name)
        except RegistryError:
            return [], None
        return version_options(versions_), registry.default_version(name)

    @app.callback(Output("predict-version-note", "children"), Input("predict-model", "value"),
                  Input("predict-version", "value"))
    def version_note(name, number):
        require("upload")
        if number is None:
            return ""
        version = context.get().registry.version_of(name, number)
        schema = version.schema
        return (f"{version.ref}: {len(schema.features)} feature columns and the id column '{schema.id_column}'; "
                f"predicts {', '.join(version.classes)}.")

    @app.callback(Output("predict-template-download", "data"), Input("predict-template-button", "n_clicks"),
                  State("predict-model", "value"), State("predict-version", "value"), prevent_initial_call=True)
    def template(_clicks, name, number):
        require("upload")
        version = context.get().registry.version_of(name, number)
        columns = [version.schema.id_column, *version.schema.names]
        return dcc.send_string(",".join(columns) + "\n", f"{name}-v{number}-template.csv")

    @app.callback(Output("predict-example-download", "data"), Input("predict-example-button", "n_clicks"),
                  State("predict-model", "value"), State("predict-version", "value"), prevent_initial_call=True)
    def example(_clicks, name, number):
        require("upload")
        frame = examples.held_out_samples(context.get(), name, number)
        return dcc.send_data_frame(frame.to_csv, f"{name}-v{number}-real-held-out-samples.csv", index=False)

    @app.callback(Output("predict-report", "children"), Output("predict-upload-id", "data"),
                  Output("predict-run", "disabled", allow_duplicate=True),
                  Input("predict-upload", "contents"), State("predict-upload", "filename"),
                  State("predict-model", "value"), State("predict-version", "value"), prevent_initial_call=True)
    def upload(contents, filename, name, number):
        require("upload")
        if not contents:
            return no_update, no_update, no_update
        portal = context.get()
        try:
            outcome = runs.save_upload(portal, current_user.id, filename or "upload", _decode(contents), name,
                                       number)
        except runs.RunError as error:
            return dbc.Alert(str(error), color="danger"), None, True
        valid = outcome.upload.status == UploadStatus.VALID
        return validation_report_view(outcome.report), outcome.upload.id if valid else None, not valid

    @app.callback(Output("predict-queued", "data"), Output("predict-message", "children"),
                  Input("predict-run", "n_clicks"), State("predict-upload-id", "data"),
                  State("predict-run-name", "value"), prevent_initial_call=True)
    def queue(_clicks, upload_id, name):
        require("predict")
        if not upload_id:
            return no_update, dbc.Alert("Upload a file that passes validation first.", color="warning")
        try:
            run = runs.queue_run(context.get(), upload_id, current_user.id, current_user.role, name=name)
        except runs.RunError as error:
            return no_update, dbc.Alert(str(error), color="danger")
        return run.id, html.Span(["Running… the run is saved: you can leave and find it under ",
                                  dcc.Link("My runs", href="/runs"), "."])

    @app.callback(Output("predict-location", "pathname"), Output("predict-message", "children", allow_duplicate=True),
                  Input("predict-finished", "data"), prevent_initial_call=True)
    def finished(outcome):
        require("predict")
        if outcome and outcome.get("status") == RunStatus.DONE:
            return f"/runs/{outcome['run']}", no_update
        status = (outcome or {}).get("status", RunStatus.FAILED)
        return no_update, dbc.Alert(f"The run ended as {status}.", color="warning")
