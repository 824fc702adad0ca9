"""How the server answers an error that reaches Flask: never with a stack trace, never with a 500 for what a
person caused.

- The errors the portal raises for what a person asked (a run or upload refused or missing: RunError with
  its status; notebook parameters: ParameterError, 400; a model, version or alias that does not exist:
  RegistryError, 404; a request about users: UserError, 400) answer that status with their message, when
  a callback or a view lets one through;
- a Dash asset that does not exist (/_dash-component-suites/...) answers 404;
- any other HTTP error answers as the sign-in module's error pages do (JSON in the portal's error shape on
  Dash's routes and the API, an HTML page otherwise);
- anything else is a bug: its trace goes to the server's log with the request id, and the caller gets a
  generic 500 message that names that id and nothing of the error.

The API blueprint keeps its own handlers (portal.api.errors), which answer in the same shape."""
from __future__ import annotations

import logging

import flask
from dash.exceptions import DependencyException
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound, default_exceptions

from engine.registry import IntegrityError, RegistryError
from portal import request_ids
from portal.accounts import signin
from portal.accounts.users import UserError
from portal.notebooks.catalog import ParameterError
from portal.predictions.runs import RunError

log = logging.getLogger(__name__)
GENERIC = "The server failed to answer this request; the error is logged (request id {id})."


def install(server: flask.Flask) -> None:
    server.register_error_handler(Exception, answer)


def answer(error: Exception):
    """The answer to an exception a view or callback raised (Flask's handler for Exception)."""
    if isinstance(error, HTTPException):
        return error if error.response is not None else signin.error_response(error)  # abort(a response)
    known = person_caused(error)
    if known is not None:
        return signin.error_response(known)
    log.error("unhandled error on %s %s (request %s)", flask.request.method, flask.request.path,
              request_ids.current(), exc_info=error)
    return signin.error_response(InternalServerError(description=GENERIC.format(id=request_ids.current())))


def person_caused(error: Exception) -> HTTPException | None:
    """The HTTP error an exception of what a person asked deserves, or None for a bug."""
    if isinstance(error, RunError):
        return _http(error.status, str(error))
    if isinstance(error, ParameterError):
        return _http(400, f"Not run: {error}")
    if isinstance(error, RegistryError) and not isinstance(error, IntegrityError):  # a damaged artifact is ours
        return _http(404, str(error))
    if isinstance(error, UserError):
        return _http(400, str(error))
    if isinstance(error, DependencyException):  # an asset path Dash does not serve
        return NotFound(description="No such file.")
    return None


def _http(status: int, message: str) -> HTTPException:
    kind = default_exceptions.get(status)
    if kind is None or status >= 500:  # what a person caused is never a server error
        kind = default_exceptions[400]
    return kind(description=message)
