"""The background run of a page (Predict, Notebooks), wired the same way for both: storing a run id in
`{prefix}-queued` starts `execute(portal, run_id, report)` in a background job (diskcache, or Celery with
Redis) with progress in `{prefix}-progress` and its label, `{prefix}-run` disabled and `{prefix}-cancel`
enabled meanwhile; the outcome, `{"run", "status"}`, lands in `{prefix}-finished`. Cancel stops the job
and marks the run with `cancel(portal, run_id, user_id, role)`; `{prefix}-message` then shows what
`cancelled()` builds (the page's own component: the server builds no UI). The page's permission is
checked on every request that starts, polls or cancels the job, and on every request that starts or polls
it, that `may_start(portal, run_id, user_id, role)` accepts the run id it carries (the run's owner or an
admin): a run id posted by hand to the job's callback is refused like one in a URL."""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, State
from flask_login import current_user

from portal import request_ids
from portal.accounts.permissions import require
from portal.core import context
from portal.jobs.managers import require_for_background


def register_job(app: dash.Dash, prefix: str, permission: str, execute: Callable, cancel: Callable,
                 progress_text: Callable[[int, int], str], cancelled: Callable[[], object],
                 may_start: Callable) -> None:
    settings = app.server.extensions[context.EXTENSION].settings
    require_for_background(app.server, f"{prefix}-finished.data", permission, run_input=f"{prefix}-queued.data",
                           may_start=may_start)
    require_for_background(app.server, f"{prefix}-cancel.id", permission)  # Dash's own cancel callback

    @app.callback(Output(f"{prefix}-finished", "data"), Input(f"{prefix}-queued", "data"),
                  background=True, prevent_initial_call=True,
                  running=[(Output(f"{prefix}-run", "disabled"), True, False),
                           (Output(f"{prefix}-cancel", "disabled"), False, True)],
                  progress=[Output(f"{prefix}-progress", "value"), Output(f"{prefix}-progress-label", "children")],
                  progress_default=[0, ""],
                  cancel=[Input(f"{prefix}-cancel", "n_clicks")])
    def run_job(set_progress, run_id):
        # in the background job: no request here; the guard checked the permission on the request
        def report(done, total, detail=None):  # detail: where a long step is, after its label
            text = progress_text(done, total)
            set_progress((round(100 * done / total) if total else 100, f"{text}: {detail}" if detail else text))

        # the job's audit entries carry the id and client address of the request that started it: Dash
        # keeps that request's headers (with the portal's id, portal.request_ids) in the job's context
        started = dash.callback_context
        with request_ids.started_by(started.headers.get(request_ids.HEADER), started.remote):
            return {"run": run_id, "status": execute(context.standalone(settings), run_id, report)}

    @app.callback(Output(f"{prefix}-message", "children", allow_duplicate=True),
                  Input(f"{prefix}-cancel", "n_clicks"), State(f"{prefix}-queued", "data"), prevent_initial_call=True)
    def cancel_job(_clicks, run_id):
        require(permission)
        if run_id:
            cancel(context.get(), run_id, current_user.id, current_user.role)
        return cancelled()
