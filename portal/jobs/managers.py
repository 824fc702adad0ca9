"""Background jobs for long callbacks: a diskcache manager on one machine, Celery with Redis when a
Redis URL is set. Background callbacks run outside the request, so their permission, and that the signed-in
user may start the run whose id the request carries, are checked on the request that starts or polls them
(`require_for_background`): a run id posted to a job's callback is checked like one in a URL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import flask
from dash import CeleryManager, DiskcacheManager
from flask_login import current_user

from portal import dash_requests, json_logs
from portal.accounts.permissions import require
from portal.core import context
from portal.core.settings import Settings
from portal.predictions.runs import RunError

GUARDED = "cancer_alpha_background_permissions"
MANAGER = "cancer_alpha_background_manager"


def make_celery(settings: Settings):
    from celery import Celery

    if settings.log_format == "json":
        json_logs.install_for_celery()  # the worker and beat keep the JSON lines (Celery would use its own)
    return Celery("cancer_alpha", broker=settings.redis_url, backend=settings.redis_url)


def background_manager(settings: Settings):
    if settings.redis_url:
        return CeleryManager(make_celery(settings))
    import diskcache

    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(settings.jobs_dir)))


@dataclass(frozen=True)
class Guard:
    """What a request to one background callback needs: the permission, and, when one of its inputs
    carries a run id (`run_input`, "component-id.property"), that `may_start(portal, run_id, user_id,
    role)` accepts it: it raises the portal's RunError (403 or 404, the refusal audited) otherwise."""

    permission: str
    run_input: str | None = None
    may_start: Callable | None = None


def install_background_guard(server: flask.Flask) -> None:
    server.extensions[GUARDED] = {}

    @server.before_request
    def _check_background_request():
        if not dash_requests.is_callback_request():
            return None
        body = dash_requests.callback_body()  # 400 for a body that is not the named callback's
        guard = server.extensions[GUARDED].get(body["output"])
        if guard is not None:
            require(guard.permission)
            if guard.run_input:
                _check_run(guard, body)
        return None


def _is_poll() -> bool:
    """Dash asks after a started job with its (signed) cache key and job id in the query, and the inputs as
    the page now holds them: the run id may be gone by then, and the run was checked when the job started.
    A poll that still names a run is checked like a start (Dash starts a job anew when the handles do
    not verify)."""
    return bool(flask.request.args.get("cacheKey")) and bool(flask.request.args.get("job"))


def _check_run(guard: Guard, body: dict) -> None:
    run_id = next(item.get("value") for item in body["inputs"]
                  if f"{item['id']}.{item['property']}" == guard.run_input)  # present: dash_requests checked
    if run_id is None and _is_poll():
        return
    if not isinstance(run_id, str) or not run_id:
        flask.abort(400, description=f"{guard.run_input} must hold a run id")
    try:
        guard.may_start(context.get(), run_id, current_user.id, current_user.role)
    except RunError as error:
        flask.abort(error.status, description=str(error))


def require_for_background(server: flask.Flask, output: str, permission: str, run_input: str | None = None,
                           may_start: Callable | None = None) -> None:
    """Every request that starts or polls the background callback with this output needs `permission`, and
    with `run_input`, that `may_start` accepts the run id in that input for the signed-in user."""
    server.extensions[GUARDED][output] = Guard(permission, run_input, may_start)
