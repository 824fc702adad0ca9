"""Structured logs for production (`CANCER_ALPHA_LOG_FORMAT=json`, the default when CANCER_ALPHA_ENV is
production): one JSON object per line, with `time` (UTC, ISO 8601), `level`, `logger`, `message`, the
`request_id` of the request (or of the request that started a background job) when there is one, and an
`exception` when one is logged.

The web process (create_app), the Celery worker and beat (make_celery: Celery would otherwise replace the
root logger's handlers with its own text format) and gunicorn's own error and access logs (GunicornLogger
below, named in deploy/gunicorn.conf.py) all log that way. A gunicorn access line holds `method`, `path`,
`status`, `duration_ms` and `request_id` only: the path without its query string and with an explained
sample's id replaced (portal.access_log), no referrer, user agent, cookie or body."""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Mapping

import flask

from portal import access_log, request_ids

# what a record's `extra` may add to a line (an allow-list: whatever else a record carries stays out)
FIELDS = ("method", "path", "status", "duration_ms")
LEVEL = logging.INFO


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for JSON logs, read as Settings reads CANCER_ALPHA_LOG_FORMAT (for
    gunicorn's master, which builds no Settings of its own)."""
    env = os.environ if environ is None else environ
    default = "json" if env.get("CANCER_ALPHA_ENV") == "production" else "text"
    return (env.get("CANCER_ALPHA_LOG_FORMAT") or default) == "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = getattr(record, "request_id", None) or _request_id()
        if request_id:
            entry["request_id"] = request_id
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)  # escapes newlines: one line per event


def _request_id() -> str | None:
    if flask.has_request_context():
        return flask.g.get("request_id")  # read only: a logger must not assign one
    return request_ids.current()  # outside a request: the id of the request that started the job, if any


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (a redirected stream, a test's capture)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def install(level: int | str | None = None) -> None:
    """Root logger to stderr as JSON lines; once per process (installing again only sets the level)."""
    root = logging.getLogger()
    if not any(isinstance(handler, _StderrHandler) for handler in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level or LEVEL)


def install_for_celery() -> None:
    """Celery configures logging at a worker's or beat's start unless a receiver of `setup_logging`
    answers: this one keeps the JSON handler, at the level given on the command line (--loglevel)."""
    from celery import signals

    signals.setup_logging.connect(_celery_logging, weak=False, dispatch_uid="cancer_alpha_json_logs")


def _celery_logging(loglevel=None, **_ignored) -> None:
    install(loglevel)


class GunicornLogger(access_log.GunicornLogger):
    """gunicorn's logger (with access_log's loggable atoms); with JSON logs wanted, its error log's lines
    are JSON and an access line holds the fields the module's docstring names."""

    def setup(self, cfg):
        super().setup(cfg)
        if wanted():
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not wanted():
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        headers = dict((name.lower(), value) for name, value in resp.headers)
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = environ.get("REQUEST_METHOD"), access_log.loggable_path(environ.get("PATH_INFO") or "")
        self.access_log.info("%s %s %s", method, path, status, extra={
            "method": method, "path": path, "status": int(status),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "request_id": request_ids.accepted(headers.get(request_ids.HEADER.lower()))})
        return None
