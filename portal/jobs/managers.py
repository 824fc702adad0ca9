"""Background jobs for long callbacks: a diskcache manager on one machine, Celery with Redis when a
Redis URL is set. Background callbacks run outside the request, so their permission is checked on the
request that starts or polls them (`require_for_background`)."""
from __future__ import annotations

import flask
from dash import CeleryManager, DiskcacheManager

from portal.accounts.permissions import require
from portal.core.settings import Settings

GUARDED = "cancer_alpha_background_permissions"
MANAGER = "cancer_alpha_background_manager"


def make_celery(settings: Settings):
    from celery import Celery

    return Celery("cancer_alpha", broker=settings.redis_url, backend=settings.redis_url)


def background_manager(settings: Settings):
    if settings.redis_url:
        return CeleryManager(make_celery(settings))
    import diskcache

    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(settings.jobs_dir)))


def install_background_guard(server: flask.Flask) -> None:
    server.extensions[GUARDED] = {}

    @server.before_request
    def _check_background_permission():
        if flask.request.path != "/_dash-update-component" or flask.request.method != "POST":
            return None
        payload = flask.request.get_json(silent=True) or {}
        permission = server.extensions[GUARDED].get(payload.get("output"))
        if permission:
            require(permission)
        return None


def require_for_background(server: flask.Flask, output: str, permission: str) -> None:
    """Every request that starts or polls the background callback with this output needs `permission`."""
    server.extensions[GUARDED][output] = permission
