"""`GET /api/v1/runs/<run_id>/samples/<sample_id>/fhir` and `.../report.pdf`: one sample of a finished run as a
FHIR R4 Bundle or a PDF report, for the key's owner, an admin or a user the run is shared with (403 for a role
without `export_reports`, 404 for a run or sample the caller may not read or that does not exist, 409
unfinished, 410 purged, 503 when the PDF's figure export cannot start). Their answers are files, not pydantic
models of the API's, so their OpenAPI entries are written here."""
from __future__ import annotations

from typing import Callable

import flask

from portal.accounts.api_keys import KeyOwner
from portal.api.errors import ApiError
from portal.core.context import Portal
from portal.predictions import runs
from portal.reports import fhir, fhir_export, pdf_export
from portal.reports.figure_export import ExportUnavailable

MAX_SAMPLE_ID = 200  # as the API's sample ids (schemas.Sample.id): a longer one names no sample
FOLDER = "/api/v1/runs/{run_id}/samples/{sample_id}"


def _answer(portal: Portal, run_id: str, sample_id: str, owner: KeyOwner, export_sample: Callable,
            filename: Callable, media_type: str) -> flask.Response:
    if len(sample_id) > MAX_SAMPLE_ID:
        raise ApiError(404, f"no sample {sample_id[:40]}… in run {run_id[:64]}")
    try:
        exported = export_sample(portal, run_id, sample_id, owner.user_id, owner.role, owner.email, key=owner.prefix)
    except runs.RunError as error:
        if error.status == 403:  # another user's run, not shared: answered as none (the refusal is audited)
            raise ApiError(404, f"no prediction run {run_id[:64]} that you may read") from None
        raise ApiError(error.status, str(error)) from None
    except ExportUnavailable as error:
        raise ApiError(503, f"PDF reports are unavailable on this server: {error}") from None
    response = flask.Response(exported.content, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(run_id, exported)}"'
    return response


def sample_bundle(portal: Portal, run_id: str, sample_id: str, owner: KeyOwner) -> flask.Response:
    return _answer(portal, run_id, sample_id, owner, fhir_export.export_sample, fhir_export.filename,
                   fhir.MEDIA_TYPE)


def sample_report(portal: Portal, run_id: str, sample_id: str, owner: KeyOwner) -> flask.Response:
    return _answer(portal, run_id, sample_id, owner, pdf_export.export_sample, pdf_export.filename,
                   pdf_export.MEDIA_TYPE)


def _entry(error_schema: dict, name: str, summary: str, ok: dict, **more_errors: str) -> dict:
    def error(text: str) -> dict:
        return {"description": text, "content": {"application/json": {"schema": error_schema}}}

    errors = {"401": "No valid API key", "403": "The key's role may not export reports",
              "404": "No such run or sample, or a run the key's owner may not read",
              "409": "The run has not finished", "410": "Its results were purged (retention) or erased",
              "429": "Rate limit reached", **more_errors}
    operation = name.replace(".", "_")
    return {f"{FOLDER}/{name}": {"get": {
        "summary": summary, "operationId": f"get_api_v1_runs_run_id_samples_sample_id_{operation}",
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                       for p in ("run_id", "sample_id")],
        "responses": {"200": ok, **{status: error(text) for status, text in errors.items()}},
        "security": [{"apiKey": []}],
    }}}


def openapi_paths(error_schema: dict) -> dict:
    bundle = _entry(
        error_schema, "fhir",
        "One sample of a finished run as a FHIR R4 (4.0.1) Bundle: a DiagnosticReport (final, or preliminary when "
        "the model abstains), an Observation per class probability (UCUM %), the abstain and out-of-distribution "
        "flags, and the model's Device. The sample id is the subject's identifier only if its upload declared the "
        "ids pseudonyms.",
        {"description": "A FHIR R4 Bundle of type collection", "content": {fhir.MEDIA_TYPE: {
            "schema": {"type": "object", "required": ["resourceType", "type", "entry"],
                       "properties": {"resourceType": {"const": "Bundle"}, "type": {"const": "collection"},
                                      "entry": {"type": "array", "items": {"type": "object"}}}}}}})
    report = _entry(
        error_schema, "report.pdf",
        "One sample of a finished run as a PDF report of two A4 pages: the model version and artifact sha256, the "
        "dataset and its license, the predicted class with its calibrated probability, the abstain and "
        "out-of-distribution verdicts, the sums per feature group, the model's held-out figures for that class, "
        "the top contributions as a vector figure, the research-use notice. The audit trail keeps the file's "
        "sha256 (entry report.pdf).",
        {"description": "The PDF report", "content": {pdf_export.MEDIA_TYPE: {
            "schema": {"type": "string", "format": "binary"}}}},
        **{"503": "The figure export's browser (chromium) could not be started"})
    return bundle | report
