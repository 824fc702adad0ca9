"""Request ids: every HTTP request gets one, kept in flask.g and answered in the `X-Request-Id` header; the
audit trail stores it with each entry and the API reports it in its JSON, so one id ties a caller's
request to what it did.

An incoming `X-Request-Id` (a proxy's, or a client's own) is kept when it is well formed (at most 64
letters, digits and `.` `_` `:` `-`); anything else is replaced by a new uuid4 hex. A background job
records the id (and client address) of the request that started it: `started_by` binds them for the
job's audit entries."""
from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import flask

HEADER = "X-Request-Id"
_ENVIRON = "HTTP_X_REQUEST_ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# (request id, client address) of the request that started the running background job, if known
_job_origin: ContextVar[tuple[str | None, str | None]] = ContextVar("cancer_alpha_job_origin", default=(None, None))


def accepted(value: str | None) -> str | None:
    """The value if it is a well-formed request id, else None."""
    return value if isinstance(value, str) and WELL_FORMED.fullmatch(value) else None


def install(server: flask.Flask) -> None:
    """Give every request an id. Install it before any other before_request hook (the sign-in guard
    answers some requests itself, and they need an id too)."""
    server.before_request(_assign)
    server.after_request(_answer)


def _assign() -> None:
    request_id = accepted(flask.request.headers.get(HEADER)) or uuid.uuid4().hex
    flask.g.request_id = request_id
    # the request's own header says the id the portal uses, so whatever reads the headers later (Dash
    # copies them into a background job's callback context) sees this one, not a malformed original
    flask.request.environ[_ENVIRON] = request_id


def _answer(response: flask.Response) -> flask.Response:
    response.headers[HEADER] = current()
    return response


def current() -> str | None:
    """This request's id; in a background job the id of the request that started it (or None)."""
    if flask.has_request_context():
        if "request_id" not in flask.g:  # a request context made outside the hooks (a test's, a script's)
            _assign()
        return flask.g.request_id
    return _job_origin.get()[0]


def client_address() -> str | None:
    """This request's client address; in a background job the address of the request that started it."""
    if flask.has_request_context():
        return flask.request.remote_addr
    return _job_origin.get()[1]


@contextmanager
def started_by(request_id: str | None, address: str | None) -> Iterator[None]:
    """Inside the block (a background job's run), audit entries carry this request id and address."""
    token = _job_origin.set((accepted(request_id), address or None))
    try:
        yield
    finally:
        _job_origin.reset(token)
