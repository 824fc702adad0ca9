"""Notebook runs as the signed-in user may see them: a missing run answers 404, one the user may not
see 403."""
from __future__ import annotations

import flask
from flask_login import current_user

from portal.core import context
from portal.core.models import NotebookRun
from portal.notebooks import runs
from portal.predictions.runs import RunError


def notebook_run_or_abort(run_id: str) -> NotebookRun:
    try:
        return runs.get_run(context.get(), run_id, current_user.id, current_user.role)
    except RunError as error:
        flask.abort(error.status, description=str(error))
