"""Prediction runs as the signed-in user may see them: a missing run answers 404, one the user may not
see 403. Pages read runs (results, explanations, downloads), so READ is the default here: the owner, an
admin, or a recipient of a share; pass RunAccess.WRITE to change one."""
from __future__ import annotations

import flask
from flask_login import current_user

from portal.core import context
from portal.core.models import PredictionRun
from portal.core.states import RunAccess
from portal.predictions import runs


def run_or_abort(run_id: str, mode: RunAccess = RunAccess.READ) -> PredictionRun:
    try:
        return runs.get_run(context.get(), run_id, current_user.id, current_user.role, mode)
    except runs.RunError as error:
        flask.abort(error.status, description=str(error))


def sample_ids(ids) -> tuple[str, str]:
    """(run id, sample id) from the explain page's `explain-ids` store, which a request may forge: 400
    unless it names a run and a sample as texts."""
    if not (isinstance(ids, dict) and isinstance(ids.get("run"), str) and isinstance(ids.get("sample"), str)):
        flask.abort(400, description="explain-ids must name a run and a sample")
    return ids["run"], ids["sample"]


def sample_run(ids) -> tuple[PredictionRun, str]:
    """The run `explain-ids` names, read as the signed-in user may (4xx otherwise), and the sample id."""
    run_id, sample_id = sample_ids(ids)
    return run_or_abort(run_id), sample_id
