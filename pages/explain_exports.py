"""The explain page's "Export FHIR" and "Download PDF": the sample's FHIR R4 Bundle (portal.reports.fhir_export)
and its PDF report (portal.reports.pdf_export) as downloads, for a role with `export_reports` who may read the
run (checked here, on the server, whatever the browser sent). No register_page: the explain page
(pages/explain.py) lays out the buttons and registers the callbacks."""
from __future__ import annotations

import base64

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html
from flask_login import current_user

from portal.accounts.permissions import require
from portal.core import context
from portal.predictions import runs
from portal.predictions.access import sample_ids
from portal.reports import fhir, fhir_export, pdf_export
from portal.reports.figure_export import ExportUnavailable


def export_buttons() -> list:
    return [
        html.Span([
            dbc.Button("Export FHIR", id="explain-fhir", color="secondary", outline=True, size="sm",
                       className="me-2", title="This sample's prediction as a FHIR R4 Bundle (DiagnosticReport "
                                               "and Observations) for a record system"),
            dcc.Download(id="explain-fhir-download"),
        ]),
        html.Span([
            dbc.Button("Download PDF", id="explain-pdf", color="secondary", outline=True, size="sm",
                       className="me-2",
                       title="This sample's report as a PDF of two A4 pages; its sha256 is kept in the audit trail"),
            dcc.Loading(dcc.Download(id="explain-pdf-download"), type="circle", parent_style={"display": "inline"}),
        ]),
    ]


def _exported(export_sample, ids):
    """`export_sample` (fhir_export's or pdf_export's) for the signed-in user, on ids that may be forged."""
    require("export_reports")
    run_id, sample_id = sample_ids(ids)
    try:
        return export_sample(context.get(), run_id, sample_id, current_user.id, current_user.role,
                             current_user.email)
    except runs.RunError as error:
        flask.abort(error.status, description=str(error))
    except ExportUnavailable as error:
        flask.abort(503, description=f"PDF reports are unavailable on this server: {error}")


def register_export_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("explain-fhir-download", "data"), Input("explain-fhir", "n_clicks"),
                  State("explain-ids", "data"), prevent_initial_call=True)
    def export_fhir(_clicks, ids):
        exported = _exported(fhir_export.export_sample, ids)
        return dict(content=exported.content.decode(), filename=fhir_export.filename(ids["run"], exported),
                    type=fhir.MEDIA_TYPE)

    @app.callback(Output("explain-pdf-download", "data"), Input("explain-pdf", "n_clicks"),
                  State("explain-ids", "data"), prevent_initial_call=True)
    def download_pdf(_clicks, ids):
        exported = _exported(pdf_export.export_sample, ids)
        return dict(content=base64.b64encode(exported.content).decode(), base64=True,
                    filename=pdf_export.filename(ids["run"], exported), type=pdf_export.MEDIA_TYPE)
