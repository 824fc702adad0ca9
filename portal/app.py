"""The application factory: `create_app(settings)` builds one portal (Flask server and Dash app).
Nothing connects at import time, so tests build as many apps as they like."""
from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

import dash
import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from engine.registry import Registry
from engine.settings import PROJECT_ROOT
from portal import (access_log, dash_requests, http_errors, http_hardening, json_logs, metrics, nul_guard,
                    plotly_bundle, private_files, rate_limit_storage, request_ids, security_headers)
from portal.accounts import audit_export, first_password
from portal.accounts import signin as auth
from portal.accounts.users import ensure_admin
from portal.api import limits
from portal.api.cache import ResultCache
from portal.api.routes import READINESS, create_blueprint
from portal.api.sessions import NoSessionForTheApi
from portal.core import context
from portal.core.db import Database
from portal.core.settings import Settings
from portal.jobs import managers as jobs
from portal.jobs import queue_metrics
from portal.monitoring import drift_metrics
from portal.notebooks import files as notebook_files
from portal.readiness import Readiness

log = logging.getLogger(__name__)
PAGES = PROJECT_ROOT / "pages"
ASSETS = Path(__file__).resolve().parent / "assets"


def install_api(server: flask.Flask, settings: Settings) -> None:
    """REST API v1 with its result cache; limits per verified API key and failed authentications per
    client address (portal.api.limits), the health, readiness and document routes exempt (probes)."""
    server.extensions["cancer_alpha_api_cache"] = ResultCache(settings.redis_url)
    blueprint = create_blueprint()
    limits.ApiLimits(settings).install(blueprint)
    server.register_blueprint(blueprint)
    # one health check, also at /health where load balancers and container probes look for it
    server.add_url_rule("/health", "health", server.view_functions["api.health"])


def create_app(settings: Settings | None = None) -> dash.Dash:
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    server = flask.Flask("portal", static_folder=None)
    server.secret_key = settings.secret_key
    server.session_interface = NoSessionForTheApi()
    request_ids.install(server)  # first: every answer, the sign-in guard's redirects too, carries an id
    http_hardening.install(server, settings)  # the client's address behind proxies, CORS, Dash's posts
    nul_guard.install(server)  # before any hook that reads a path or body: PostgreSQL takes no NUL
    private_files.restrict(settings)  # before the database file or any other is made
    access_log.install_development_filter()
    if settings.log_format == "json":
        json_logs.install()  # one JSON object per line, with the request id (portal.json_logs)

    db = Database(settings.database_url)
    db.upgrade()
    portal = context.Portal(settings=settings, db=db, registry=Registry(settings.models_dir))
    context.install(server, portal)
    server.extensions[READINESS] = Readiness(db, portal.registry, settings.redis_url)
    # uploads arrive base64-encoded inside a JSON body: a third larger than the file, plus room for the rest
    server.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 4 // 3 + 1024 * 1024
    made_up = ensure_admin(db, settings)
    if made_up:  # to a terminal, or a 0600 file: never to a log
        first_password.hand_over(settings, made_up)

    auth.init_login(server)
    jobs.install_background_guard(server)
    rate_limit_storage.register()  # the one-machine storage's scheme
    limiter = Limiter(get_remote_address, app=server, storage_uri=settings.rate_limit_storage,
                      default_limits=[], swallow_errors=True, in_memory_fallback_enabled=True,
                      key_prefix="cancer-alpha", headers_enabled=True)
    server.view_functions["auth.login"] = limiter.limit(settings.login_rate_limit, methods=["POST"])(
        server.view_functions["auth.login"])
    server.extensions["cancer_alpha_limiter"] = limiter
    # Flask-Limiter limits the sign-in form only: it skips every other request at its first check rather than
    # working out, per request, that no limit applies (half a millisecond of an API call; the API counts
    # its own limits, portal.api.limits)
    limiter.request_filter(lambda: flask.request.endpoint != "auth.login")
    install_api(server, settings)
    server.register_blueprint(notebook_files.create_blueprint())
    server.register_blueprint(audit_export.create_blueprint())
    metrics.install(server, db, settings.metrics_token, settings.metrics_allow)
    metrics.add_scrape_collector(server, queue_metrics.QueueCollector(settings.redis_url))  # Celery queue, workers
    drift_metrics.install(server)  # drift of recent uploads per production model, from the portal's cache
    plotly_bundle.install(server)

    manager = jobs.background_manager(settings)
    server.extensions[jobs.MANAGER] = manager
    app = dash.Dash(
        "portal", server=server, use_pages=True, pages_folder=str(PAGES), assets_folder=str(ASSETS),
        title="Cancer Alpha", update_title=None, suppress_callback_exceptions=True, serve_locally=True,
        external_stylesheets=[],  # Bootstrap is served from assets/, never from a CDN
        background_callback_manager=manager,
    )
    # the page frame (navigation, banner) comes from the pages folder Dash loads, like the pages
    # themselves: the server names no page module
    frame = importlib.import_module(f"{PAGES.name}.frame")
    app.layout = frame.layout
    frame.register_callbacks(app)
    for page in dash.page_registry.values():  # each page module registers its callbacks on this app
        module = importlib.import_module(page["module"])
        if hasattr(module, "register_callbacks"):
            module.register_callbacks(app)
    security_headers.install(app, settings)
    dash_requests.install(app)  # a callback body that is not its callback's: 400
    http_errors.install(server)  # no trace to the caller; a 500 only for what no person caused
    log.info("portal ready in %.2f s (database %s, models %s)", time.perf_counter() - started,
             db.engine.url.render_as_string(hide_password=True), settings.models_dir)
    return app

