"""Access logs name no sample ids: the development server (werkzeug) and gunicorn with the deployment's
configuration log a request's path without its query and with an explained sample's id replaced, and
no referrer query, cookie or authorization header. Real servers on a free port; the sample ids and the
cookie are made up."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal.access_log import loggable_path, loggable_url
from tests.local_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "TCGA-AB-1234-01"  # made up
RISKY = [f"/explain/run-1/{SAMPLE}", f"/explain/run-1/{SAMPLE}?tab=context", f"/login?next=/explain/run-1/{SAMPLE}",
         f"/performance?model=x&sample={SAMPLE}"]


@pytest.mark.parametrize("target,logged", [
    (f"/explain/run-1/{SAMPLE}", "/explain/run-1/<sample>"), (f"/explain/r/{SAMPLE}/x?a=1", "/explain/r/<sample>/x"),
    (f"/login?next=/explain/r/{SAMPLE}", "/login"), ("/runs/abc", "/runs/abc"), ("/", "/"),
    (f"/api/v1/runs/r1/samples/{SAMPLE}/fhir", "/api/v1/runs/r1/samples/<sample>/fhir"),
    ("/api/v1/runs/r1/results?offset=5", "/api/v1/runs/r1/results"),
])
def test_loggable_paths(target, logged):
    assert loggable_path(target) == logged
    assert loggable_url(f"https://portal.example.org{target}") == f"https://portal.example.org{logged}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # one request, one log line


def _get(url: str, **headers) -> None:
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        opener.open(urllib.request.Request(url, headers=headers), timeout=30).read()
    except urllib.error.HTTPError:  # a redirect or a refusal: answered, and logged
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_development_server_logs_no_sample_ids(app, caplog):
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for target in RISKY:
                _get(f"http://127.0.0.1:{server.port}{target}")
    finally:
        server.shutdown()
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert len(lines) == len(RISKY)
    assert all(SAMPLE not in line and "?" not in line for line in lines), lines
    assert any("GET /explain/run-1/<sample> HTTP/1.1" in line for line in lines)


def test_gunicorn_logs_no_sample_ids_nor_cookies(tmp_path):
    (tmp_path / "tiny_app.py").write_text(  # a WSGI app made up for this test: the logger is what is tested
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n")
    port, log = free_port(), tmp_path / "access.log"
    # every atom that could carry an id or a secret, whatever a deployment puts in its format
    fmt = '%(h)s "%(r)s" %(U)s q=%(q)s ref=%(f)s %({referer}i)s cookie=%({cookie}i)s auth=%({authorization}i)s %(s)s'
    env = {**os.environ, "CANCER_ALPHA_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1",
           "GUNICORN_ACCESS_LOG": str(log), "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                               "--access-logformat", fmt, "tiny_app:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        for target in RISKY:
            _get(f"http://127.0.0.1:{port}{target}", Referer=f"https://portal.example.org/explain/run-2/{SAMPLE}?x=1",
                 Cookie="session=made-up-session-cookie", Authorization="Bearer ca_madeup_secret")
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = log.read_text().splitlines()[1:]  # after the start-up probe
    assert len(lines) == len(RISKY), lines
    for line in lines:
        assert SAMPLE not in line and "made-up-session-cookie" not in line and "ca_madeup_secret" not in line, line
        assert "?" not in line, line
    assert '"GET /explain/run-1/<sample> HTTP/1.1"' in lines[0]
    assert "ref=https://portal.example.org/explain/run-2/<sample>" in lines[0]
