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
