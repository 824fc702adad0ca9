"""The one JSON shape of every error the server answers in JSON (the API, the sign-in guard's 401, a
permission's 403, /metrics' refusal, Dash's internal routes):

    {"error": {"code": "not-found", "message": "...", "details": [...]}}

`details` holds what and where when there is more than one thing to say (the API's items name the
sample, the feature and the problem)."""
from __future__ import annotations

import flask

CODES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         409: "conflict", 410: "gone", 413: "too-large", 415: "unsupported-media-type", 422: "invalid", 429: "rate-limited",
         500: "internal-error", 503: "unavailable"}


def error_body(status: int, message: str, details: list[dict] | None = None, code: str | None = None) -> dict:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details or []}}


def json_error(status: int, message: str, details: list[dict] | None = None, code: str | None = None,
               headers: dict | None = None):
    """A Flask response (body, status, headers) in the shared shape."""
    return flask.jsonify(error_body(status, message, details, code)), status, headers or {}
