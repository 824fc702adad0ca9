"""The API's errors, in the one JSON shape of the server (portal.core.errors): {"error": {"code",
"message", "details": [{"sample", "feature", "problem"}]}}, with the HTTP status that fits. Bad input
never becomes a 500."""
from __future__ import annotations

import logging

import flask
from werkzeug.exceptions import HTTPException

from portal.core.errors import CODES, json_error

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[dict] | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def register(blueprint: flask.Blueprint) -> None:
    @blueprint.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return json_error(error.status, error.message, error.details, error.code, headers=error.headers)

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        headers = {}
        if error.code == 429:
            retry = getattr(error, "retry_after", None) or 60
            headers["Retry-After"] = str(int(retry))
        return json_error(error.code or 500, error.description or CODES.get(error.code, "error"), headers=headers)

    @blueprint.errorhandler(Exception)
    def _unexpected(error: Exception):  # a bug, not the caller's fault: log it, never show the trace
        log.exception("API error on %s", flask.request.path)
        return json_error(500, "The server failed to answer; the error is logged.")
