"""Structured JSON logs in production: the formatter's lines, a request's log line carrying the id its
X-Request-Id header answers, Celery's own logging setup keeping the JSON handler, and the real gunicorn
with the deployment's configuration (production settings on PostgreSQL, access log on) writing only JSON
lines whose access entries hold the method, the path without its query, the status, the duration and the
request id, and never an upload's values, a sample id or a user's e-mail. Accounts, ids and values are
made up."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
import requests
from celery.app.log import Logging

from portal import json_logs
from portal.accounts import api_keys
from portal.accounts.users import find_user
from portal.jobs.managers import make_celery
from tests.helpers import (DATA_USE, MODEL, PASSWORD, TEST_STORAGE_KEY, app_with_test_users, auth, email_of,
                           production_settings, sign_in)
from tests.local_servers import free_port, own_postgres_database

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET_KEY = "made-up-secret-key-for-the-json-log-test-only"
MARKER = 98765.4321  # an upload's value that must never reach a log
SAMPLE_ID = "TCGA-LOGTEST-0001"  # made up
WAIT_SECONDS = 90


def _lines(text_: str) -> list[dict]:
    return [json.loads(line) for line in text_.splitlines() if line.strip()]


def test_a_record_is_one_json_line_with_its_fields():
    formatter = json_logs.JsonFormatter()
    record = logging.LogRecord("portal.x", logging.WARNING, __file__, 1, "two\nlines %s", ("here",), None)
    record.status, record.email = 200, "someone@example.org"  # only the allowed extras are written
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "portal.x" and entry["message"] == "two\nlines here"
    assert entry["status"] == 200 and "email" not in entry and "request_id" not in entry
    assert entry["time"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("portal.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(formatter.format(record))["exception"]


@pytest.mark.parametrize("format_, env, expected", [
    (None, "production", True), (None, "development", False), ("text", "production", False), ("json", None, True)])
def test_the_environment_decides_as_the_settings_do(format_, env, expected):
    environ = {key: value for key, value in (("CANCER_ALPHA_LOG_FORMAT", format_), ("CANCER_ALPHA_ENV", env)) if value}
    assert json_logs.wanted(environ) is expected


@pytest.fixture(scope="module")
def log_database():
    """A PostgreSQL database of this module's own (production refuses SQLite), dropped at the end."""
    with own_postgres_database("cancer_alpha_logs") as url:
        yield url


@pytest.fixture(scope="module")
def production_app(tmp_path_factory, log_database, models_root):
    """A production portal with JSON logs and its test users, and a researcher's API key."""
    tmp_path = tmp_path_factory.mktemp("json-logs")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level  # create_app installs the JSON handler for the process
    # log_format given: make_settings passes env as an override, after the default format was chosen
    settings = production_settings(tmp_path, log_database, models_root, secret_key=SECRET_KEY, log_format="json")
    app = app_with_test_users(settings)
    db = app.server.extensions["cancer_alpha"].db
    _, key = api_keys.create_key(db, find_user(db, email_of("researcher")).id, "json log test key")
    yield app, settings, key
    db.dispose()
    root.handlers[:] = handlers  # the tests after these log as before
    root.setLevel(level)


def test_a_log_line_in_a_request_carries_its_request_id(production_app, capsys):
    app, _, _ = production_app
    logger = logging.getLogger("portal.json_log_test")

    @app.server.get("/json-log-test")  # made up for this test: a log call inside a real request
    def _logs_something():
        logger.info("inside the request")
        return "ok"

    client = app.server.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # production's session cookie is Secure
    assert sign_in(client, email_of("analyst")).status_code == 302
    capsys.readouterr()
    response = client.get("/json-log-test")
    entries = [entry for entry in _lines(capsys.readouterr().err) if entry["logger"] == "portal.json_log_test"]
    assert response.status_code == 200 and len(entries) == 1
    assert entries[0]["request_id"] == response.headers["X-Request-Id"]
    assert entries[0]["message"] == "inside the request" and entries[0]["level"] == "INFO"


def test_celery_keeps_the_json_handler(production_app, capsys, monkeypatch):
    """Celery's own logging setup, as a worker or beat runs it at start, leaves the root logger's JSON
    handler in place (without the signal receiver it would replace it with its text format)."""
    _, settings, _ = production_app
    celery = make_celery(settings)  # connects to nothing until a task is sent
    # what Celery's setup changes for the whole process, put back after the test
    monkeypatch.setattr(Logging, "_setup", False)
    for name in ("_MP_FORK_LOGLEVEL_", "_MP_FORK_LOGFILE_", "_MP_FORK_LOGFORMAT_"):
        monkeypatch.delenv(name, raising=False)
    celery.log.setup_logging_subsystem(loglevel=logging.INFO)
    capsys.readouterr()
    logging.getLogger("celery.worker").info("worker ready")
    (entry,) = [e for e in _lines(capsys.readouterr().err) if e["logger"] == "celery.worker"]
    assert entry["message"] == "worker ready"
    assert any(isinstance(h.formatter, json_logs.JsonFormatter) for h in logging.getLogger().handlers)


@pytest.fixture(scope="module")
def gunicorn_logs(production_app, tmp_path_factory, registry, tcga):
    """The real gunicorn with deploy/gunicorn.conf.py and production settings (one worker, access log on):
    requests that put an e-mail, a sample id and an upload's values in queries, form bodies and JSON
    bodies; then its stdout and stderr, and the request ids its answers carried."""
    _, settings, key = production_app
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {**os.environ, "CANCER_ALPHA_ENV": "production", "CANCER_ALPHA_DATABASE_URL": settings.database_url,
           "CANCER_ALPHA_SECRET_KEY": SECRET_KEY, "CANCER_ALPHA_STORAGE_KEY": TEST_STORAGE_KEY,
           "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir),
           "CANCER_ALPHA_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "GUNICORN_ACCESS_LOG": "-"}
    env.pop("CANCER_ALPHA_LOG_FORMAT", None)
    out, err = open(folder / "stdout", "w"), open(folder / "stderr", "w")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                "portal.wsgi:server"], cwd=ROOT, env=env, stdout=out, stderr=err)
    base, answered = f"http://127.0.0.1:{port}", {}
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            assert process.poll() is None, (folder / "stderr").read_text()[-3000:]
            try:
                if requests.get(f"{base}/api/v1/health", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # the worker is still building the app
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer in {WAIT_SECONDS} s"
            time.sleep(0.25)
        email = email_of("analyst")
        answered["given"] = requests.get(f"{base}/api/v1/health", headers={"X-Request-Id": "logtest-given-1"},
                                         timeout=10).headers["X-Request-Id"]
        answered["login"] = requests.post(f"{base}/login?next=/explain/run-1/{SAMPLE_ID}&email={email}",
                                          data={"email": email, "password": PASSWORD}, allow_redirects=False,
                                          timeout=10).headers["X-Request-Id"]
        features = {name: MARKER for name in registry.resolve(MODEL).schema.names}
        predicted = requests.post(f"{base}/api/v1/models/{MODEL}/predict?sample={SAMPLE_ID}", headers=auth(key),
                                  json={"samples": [{"id": SAMPLE_ID, "features": features}], "data_use": DATA_USE},
                                  timeout=30)
        assert predicted.status_code == 200, predicted.text
        answered["predict"] = predicted.headers["X-Request-Id"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        out.close()
        err.close()
    yield (folder / "stdout").read_text(), (folder / "stderr").read_text(), answered


def test_gunicorn_writes_only_json_lines(gunicorn_logs):
    stdout, stderr, _ = gunicorn_logs
    entries = _lines(stdout) + _lines(stderr)  # json.loads fails on any other line
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers, loggers


def test_access_lines_hold_the_request_and_its_id(gunicorn_logs):
    stdout, _, answered = gunicorn_logs
    access = {entry.get("request_id"): entry for entry in _lines(stdout) if entry["logger"] == "gunicorn.access"}
    assert answered["given"] == "logtest-given-1"
    given, login, predict = (access[answered[name]] for name in ("given", "login", "predict"))
    assert (given["method"], given["path"], given["status"]) == ("GET", "/api/v1/health", 200)
    assert (login["method"], login["path"]) == ("POST", "/login")
    assert (predict["method"], predict["path"], predict["status"]) == ("POST", f"/api/v1/models/{MODEL}/predict", 200)
    assert all(isinstance(entry["duration_ms"], float) and entry["duration_ms"] > 0 for entry in access.values())
    assert set(given) == {"time", "level", "logger", "message", "request_id", "method", "path", "status",
                          "duration_ms"}


def test_no_values_sample_ids_or_emails_in_the_logs(gunicorn_logs):
    stdout, stderr, _ = gunicorn_logs
    logged = stdout + stderr
    for secret in (str(MARKER), "98765", SAMPLE_ID, email_of("analyst"), "example.org", PASSWORD, "?"):
        assert secret not in logged, secret
