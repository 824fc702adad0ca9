"""One JSON shape for every API error: {"error": {"code", "message", "details": [{"sample", "feature",
"problem"}]}}, with the HTTP status that fits. Bad input never becomes a 500."""
from __future__ import annotations

import logging

import flask
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         409: "conflict", 413: "too-large", 415: "unsupported-media-type", 422: "invalid", 429: "rate-limited",
         500: "internal-error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[dict] | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []
        self.code = code or CODES.get(status, "error")


def error_response(status: int, message: str, details: list[dict] | None = None, code: str | None = None,
                   headers: dict | None = None):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details or []}}
    return flask.jsonify(body), status, headers or {}


def register(blueprint: flask.Blueprint) -> None:
    @blueprint.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.message, error.details, error.code)

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        headers = {}
        if error.code == 429:
            retry = getattr(error, "retry_after", None) or 60
            headers["Retry-After"] = str(int(retry))
        return error_response(error.code or 500, error.description or CODES.get(error.code, "error"), headers=headers)

    @blueprint.errorhandler(Exception)
    def _unexpected(error: Exception):  # a bug, not the caller's fault: log it, never show the trace
        log.exception("API error on %s", flask.request.path)
        return error_response(500, "The server failed to answer; the error is logged.")
