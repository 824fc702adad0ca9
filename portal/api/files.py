"""Predict from files (multipart/form-data): one wide file, or one file per feature block of the model
(engine.blocks joins them on the sample id), with the form fields of a JSON prediction (`data_use.basis`,
`data_use.reference`, `version`, `explain`, `top_k`). The files are checked as an upload on Predict is, within
one upload's limits and at most MAX_SAMPLES samples; nothing is stored. Every problem is a 422 whose details
name the file, row, sample and column."""
from __future__ import annotations

import flask
from pydantic import ValidationError

from engine import blocks
from engine.issues import WARNING
from portal.api.errors import ApiError
from portal.api.schemas import MAX_SAMPLES, PredictFilesForm
from portal.predictions.runs import LABEL_COLUMN, MAX_FILES

FILE_FIELD = "file"
MAX_DETAILS = 50


def is_multipart() -> bool:
    return flask.request.mimetype == "multipart/form-data"


def form() -> PredictFilesForm:
    """The form's fields as a request model: 422 naming a missing, unknown or refused field."""
    fields = flask.request.form
    values: dict = {}
    for key in fields:
        if len(fields.getlist(key)) > 1:
            raise ApiError(422, "The form does not match the schema.",
                           [{"problem": f"{key[:80]}: send this field once"}])
        if key in ("data_use.basis", "data_use.reference"):
            values.setdefault("data_use", {})[key.split(".", 1)[1]] = fields[key]
        else:
            values[key] = fields[key]
    try:
        return PredictFilesForm.model_validate(values)
    except ValidationError as error:
        raise ApiError(422, "The form does not match the schema.", [
            {"problem": f"{'.'.join(str(p)[:80] for p in problem['loc'])}: {problem['msg']}"}
            for problem in error.errors()[:MAX_DETAILS]]) from None


def files(max_bytes: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the files sent under FILE_FIELD, each read to at most `max_bytes` + 1."""
    others = [k for k in flask.request.files if k != FILE_FIELD]
    if others:
        raise ApiError(422, "The form does not match the schema.",
                       [{"problem": f"{others[0][:80]}: files go in the field '{FILE_FIELD}'"}])
    sent = flask.request.files.getlist(FILE_FIELD)
    if not sent or len(sent) > MAX_FILES:
        raise ApiError(422, "The form does not match the schema.", [{
            "problem": f"{FILE_FIELD}: send one wide file or one file per feature block (1 to {MAX_FILES} files)"}])
    return [(part.filename or f"file {n}", part.stream.read(max_bytes + 1)) for n, part in enumerate(sent, 1)]


def validated(model, sent: list[tuple[str, bytes]], registry, settings):
    """The files checked (and joined) against the model's schema, a 422 naming every error (file, row, sample,
    column). The report's warnings stay, but not that no file holds known classes (the API takes none)."""
    version = model.version
    alternatives = blocks.alternatives_in(registry, version.name, version.version) if len(sent) > 1 else ()
    checked = blocks.validate_files(sent, model.schema, label_column=LABEL_COLUMN, max_rows=MAX_SAMPLES,
                                    max_bytes=settings.max_upload_bytes, max_cells=settings.max_cells,
                                    model=version.name, alternatives=alternatives)
    report = checked.report
    if not report.ok:
        raise ApiError(422, f"{report.source}: the files do not pass validation "
                            f"({len(report.errors)} error(s)).", [
            {"sample": i.sample, "feature": i.column, "problem": i.message} for i in report.errors[:MAX_DETAILS]])
    report.issues = [i for i in report.issues if not (i.severity == WARNING and i.code == "missing-label-column")]
    return checked
