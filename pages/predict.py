"""Predict: choose a model version, download its template or an example of real held-out samples,
choose the samples' data-use basis (consent) and its reference, upload a cohort file (refused, and nothing
stored, without a basis, or without a reference the basis requires: portal.predictions.consent), read the
validation report, then run the prediction as a background job with progress and cancel. The finished
run opens on its results page (/runs/<id>)."""
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
from engine import blocks
from engine.registry import RegistryError
from pages.frame import page_denied
from portal import browser_values
from portal.accounts import audit
from portal.accounts.permissions import require
from portal.core import context
from portal.core.states import DataUseBasis, RunStatus, UploadStatus
from portal.jobs.callbacks import register_job
from portal.predictions import consent, examples, figure_store, pseudonyms, runs

dash.register_page(__name__, path="/predict", name="Predict", order=5, permission="upload")


def layout(model: str | None = None, **_query):
    denied = page_denied("upload")
    if denied:
        return denied
    names = context.get().registry.models()
    if not names:
        return html.P(EMPTY_REGISTRY)
    chosen = model_choice(names, model)
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
                html.Div([  # shown for a version with several feature blocks (engine.blocks)
                    dbc.Button("Templates, one file per block (.zip)", id="predict-block-templates-button",
                               color="secondary", outline=True, size="sm", className="me-2 mt-1"),
                    dbc.Button("Example, one file per block (.zip)", id="predict-block-example-button",
                               color="secondary", outline=True, size="sm", className="mt-1"),
                ], id="predict-block-files", style={"display": "none"}),
            ])], md=5),
        ], className="mb-2"),
        html.P(id="predict-version-note", className="small text-muted"),
        dcc.Download(id="predict-template-download"),
        dcc.Download(id="predict-example-download"),
        dcc.Download(id="predict-block-download"),
        _data_use_choice(),
        html.Div(_upload_area(), id="predict-upload-box"),
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


def _upload_area() -> dcc.Upload:
    """The file drop: one wide file, or one file per feature block chosen together; drawn afresh after each
    upload, so that the same files can be chosen again (a file input that still holds them reports no change)."""
    settings = context.get().settings
    limit_mb = settings.max_upload_bytes / 1024 / 1024
    return dcc.Upload(id="predict-upload", max_size=settings.max_upload_bytes, multiple=True,
                      children=html.Div([html.Strong("Drop a file here or click to choose one"), html.Br(),
                                         html.Span(f"CSV, TSV (also .gz) or Parquet; one sample a row; up to "
                                                   f"{limit_mb:.0f} MB and {settings.max_rows:,} samples. An optional "
                                                   f"column '{runs.LABEL_COLUMN}' holds known classes. For a model "
                                                   "with several feature blocks, one wide file or one file per "
                                                   "block (choose them together), joined on the sample id; the "
                                                   f"files together up to {limit_mb:.0f} MB.",
                                                   className="small text-muted")]),
                      className="border border-2 rounded p-4 text-center mb-3", style={"borderStyle": "dashed"})


def _data_use_choice() -> html.Fieldset:
    """The required data-use basis of the samples about to be uploaded, and its free-text reference."""
    return html.Fieldset([
        html.Legend("Data-use basis of these samples (required before you upload)",
                    className="form-label fw-semibold fs-6 mb-1"),
        dbc.RadioItems(id="predict-data-use", value=None, className="small",
                       options=[{"label": basis.words, "value": basis.value} for basis in DataUseBasis.choices()]),
        dbc.Row(dbc.Col([
            dbc.Label("Reference", id="predict-data-use-reference-label", html_for="predict-data-use-reference",
                      className="small mb-0"),
            dbc.Input(id="predict-data-use-reference", maxLength=consent.MAX_REFERENCE, size="sm",
                      placeholder="choose a basis first"),
        ], md=6), className="mt-1"),
        html.Div("Recorded with the upload, shown on the run's page and kept in the audit trail. Name a protocol, "
                 "consent or source, never a person.", className="small text-muted"),
        dbc.Checkbox(id="predict-pseudonymous", value=False, className="small mt-1",
                     label=f"{pseudonyms.DECLARATION}: a FHIR export may then name the sample by its id."),
    ], className="border rounded p-2 mb-3", id="predict-data-use-fieldset")


def _decode(contents: str) -> bytes:
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (AttributeError, IndexError, binascii.Error):  # not a data URL's text (a request written by hand)
        raise runs.RunError("the upload arrived damaged; please try again") from None


def _files(contents, filenames) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file dropped: one (a text) or several (lists, as multiple=True sends them)."""
    if isinstance(contents, str):
        contents, filenames = [contents], [filenames]
    if not isinstance(contents, list) or not all(isinstance(c, str) for c in contents):
        raise runs.RunError("the upload arrived damaged; please try again")
    if not isinstance(filenames, list) or len(filenames) != len(contents):
        filenames = [None] * len(contents)
    return [(name if isinstance(name, str) and name else "upload", _decode(data))
            for name, data in zip(filenames, contents)]


def register_callbacks(app: dash.Dash) -> None:
    # the run's figures are drawn in its job, so its page opens at once (portal.predictions.figure_store)
    register_job(app, "predict", "predict", figure_store.predict_and_draw(run_figures.FORMAT, run_figures.draw),
                 runs.cancel_run,
                 lambda done, total: f"{done:,} of {total:,} samples", lambda: run_cancelled("predict"),
                 may_start=runs.get_run)  # the run's owner or an admin

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
        audit.record("download.template", target=version.ref)  # column names only, but a download all the same
        return dcc.send_string(",".join(columns) + "\n", f"{name}-v{number}-template.csv")

    @app.callback(Output("predict-example-download", "data"), Input("predict-example-button", "n_clicks"),
                  State("predict-model", "value"), State("predict-version", "value"), prevent_initial_call=True)
    def example(_clicks, name, number):
        require("upload")
        frame = examples.held_out_samples(context.get(), name, number)
        return dcc.send_data_frame(frame.to_csv, f"{name}-v{number}-real-held-out-samples.csv", index=False)

    @app.callback(Output("predict-block-files", "style"), Input("predict-model", "value"),
                  Input("predict-version", "value"))
    def block_files_shown(name, number):
        require("upload")
        if number is None:
            return {"display": "none"}
        return {} if blocks.many(context.get().registry.version_of(name, number).schema) else {"display": "none"}

    @app.callback(Output("predict-block-download", "data"), Input("predict-block-templates-button", "n_clicks"),
                  Input("predict-block-example-button", "n_clicks"), State("predict-model", "value"),
                  State("predict-version", "value"), prevent_initial_call=True)
    def block_download(_templates, _example, name, number):
        require("upload")
        portal = context.get()
        version = portal.registry.version_of(name, number)
        if dash.ctx.triggered_id == "predict-block-example-button":
            frame, kind = examples.held_out_samples(portal, name, number), "real-held-out-samples"
        else:
            audit.record("download.template", target=version.ref, details={"layout": "per block"})
            frame, kind = examples.template_frame(version), "template"
        data, filename = examples.block_files(frame, version, kind)
        return dcc.send_bytes(data, filename)

    @app.callback(Output("predict-data-use-reference-label", "children"),
                  Output("predict-data-use-reference", "placeholder"), Input("predict-data-use", "value"))
    def reference_label(basis):
        require("upload")
        if basis not in DataUseBasis.choices():
            return "Reference", "choose a basis first"
        chosen = DataUseBasis(basis)
        return (f"{chosen.reference_label} ({'required' if chosen.reference_required else 'optional'})",
                "e.g. IRB-2024-0153" if chosen == DataUseBasis.DEIDENTIFIED_PROTOCOL else "")

    @app.callback(Output("predict-report", "children"), Output("predict-upload-id", "data"),
                  Output("predict-run", "disabled", allow_duplicate=True), Output("predict-upload-box", "children"),
                  Input("predict-upload", "contents"), State("predict-upload", "filename"),
                  State("predict-model", "value"), State("predict-version", "value"),
                  State("predict-data-use", "value"), State("predict-data-use-reference", "value"),
                  State("predict-pseudonymous", "value"), prevent_initial_call=True)
    def upload(contents, filename, name, number, basis, reference, pseudonymous):
        require("upload")
        if not contents:
            return no_update, no_update, no_update, no_update
        portal = context.get()
        try:  # the basis is checked here, on the server, whatever the browser sent
            outcome = runs.save_files(portal, current_user.id, _files(contents, filename), name, number,
                                      data_use={"basis": basis, "reference": reference},
                                      pseudonymous_ids=pseudonymous is True)  # only a ticked box declares
        except runs.RunError as error:
            return dbc.Alert(str(error), color="danger", id="predict-upload-refused"), None, True, _upload_area()
        valid = outcome.upload.status == UploadStatus.VALID
        recorded = consent.recorded(outcome.upload.data_use_basis, outcome.upload.data_use_reference)
        report = html.Div([html.P(f"Data-use basis recorded with this upload: {recorded.words}.",
                                  id="predict-data-use-recorded", className="small"),
                           validation_report_view(outcome.report)])
        return report, outcome.upload.id if valid else None, not valid, _upload_area()

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
        outcome = browser_values.event(outcome, "predict-finished")
        # RUNNING: a large run handed to the Celery workers in chunks (portal.jobs.batch); its page follows it
        if outcome.get("status") in (RunStatus.DONE, RunStatus.RUNNING):
            return f"/runs/{outcome.get('run')}", no_update
        status = outcome.get("status", RunStatus.FAILED)
        return no_update, dbc.Alert(f"The run ended as {status}.", color="warning")
