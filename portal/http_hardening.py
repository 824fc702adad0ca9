"""HTTP-level hardening of the Flask server, installed by create_app before anything else:

- behind `trusted_proxy_hops` reverse proxies, werkzeug's ProxyFix takes the client's address (and the
  scheme and host) from that many X-Forwarded-* entries, counted from the right, the ones those proxies
  appended: rate limits (Flask-Limiter's get_remote_address), the sign-in throttle, /metrics' networks
  and the audit trail all read `request.remote_addr`. With 0 hops (the default) X-Forwarded-For is never
  read, so a client cannot choose the address it is counted under;
- CORS is closed unless `cors_origins` names origins: then the API (/api/v1/*, which authenticates by
  bearer key, never by cookie) answers their preflight and their requests (flask-cors); the pages,
  Dash's routes and sign-in never carry Access-Control-Allow-Origin;
- the paths a signed-out caller may reach are matched exactly (`is_public`);
- Dash's callback posts must be JSON and not cross-site (`_dash_posts_same_origin`)."""
from __future__ import annotations

import flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import dash_requests
from portal.core.errors import json_error
from portal.core.settings import Settings

API_FOLDER = "/api/v1/"
# Reached signed out. /api/v1/ authenticates by API key and /metrics by token or network: both check
# their callers themselves. Folders end with "/"; every other path must match one of PUBLIC_PATHS exactly.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/health", "/_favicon.ico", "/metrics"})
PUBLIC_FOLDERS = ("/assets/", "/_dash-component-suites/", API_FOLDER)


def is_public(path: str) -> bool:
    """True for a path a signed-out caller may reach: one of PUBLIC_PATHS, or inside a public folder
    without a step up (`/assets/../admin` is not inside /assets/)."""
    if path in PUBLIC_PATHS:
        return True
    return path.startswith(PUBLIC_FOLDERS) and ".." not in path.split("/")


def is_api_path(path: str) -> bool:
    """True for a path of the REST API, which authenticates every request by its key (portal.api.routes):
    no cookie session, sign-in guard or Dash check applies there."""
    return path.startswith(API_FOLDER) and ".." not in path.split("/")


def install(server: flask.Flask, settings: Settings) -> None:
    if settings.trusted_proxy_hops > 0:
        hops = settings.trusted_proxy_hops
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if settings.cors_origins:
        CORS(server, resources={f"{API_FOLDER}*": {"origins": list(settings.cors_origins)}},
             methods=["GET", "POST", "OPTIONS"], allow_headers=["Authorization", "Content-Type"],
             expose_headers=["X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                             "X-RateLimit-Reset"], supports_credentials=False, max_age=600)
        server.before_request(_answer_api_preflight)
    server.before_request(_dash_posts_same_origin)


def _answer_api_preflight():
    """A browser's preflight (OPTIONS with Access-Control-Request-Method) carries no API key: answer it
    before the API asks for one; flask-cors adds the headers for a listed origin, none for another."""
    request = flask.request
    if (request.method == "OPTIONS" and request.path.startswith(API_FOLDER)
            and "Access-Control-Request-Method" in request.headers):
        return flask.current_app.make_default_options_response()
    return None


def _dash_posts_same_origin():
    """Dash's callbacks change state (a password, a run, a share) through POST /_dash-update-component
    with the session cookie and no form token. They are safe from cross-site request forgery because:
    the cookie is SameSite=Lax, so a browser does not send it with another site's POST; the body must be
    JSON (Content-Type application/json), which a cross-site form cannot send, and a cross-site script
    cannot send without a CORS preflight, which the portal never grants outside /api/v1/. Checked here
    rather than left to Dash's parser, with the browser's own Sec-Fetch-Site where it sends one."""
    request = flask.request
    if not dash_requests.is_callback_request():
        return None
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return json_error(403, "Callbacks are accepted from the portal's own pages only.")
    if request.mimetype != "application/json":
        return json_error(415, "Callbacks are sent as JSON (Content-Type: application/json).")
    return None
