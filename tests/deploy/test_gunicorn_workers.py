"""Several gunicorn workers agree: the real gunicorn (deploy/gunicorn.conf.py, 3 gthread workers on loopback)
over PostgreSQL and Redis (database 11), with a real Celery worker for the background callbacks. Which worker
served a request is read from gunicorn's access log (the worker's pid beside the request id this test sends).

- a session made by signing in through one worker is valid on the others;
- a rate limit is one limit across workers (counted in Redis): N calls pass, the N+1th is refused;
- a key revoked from another process, or in the database itself, is refused on the next request on every worker
  (each keeps the keys it verified while the credential generation stands still);
- a background prediction started through one worker is polled to its end through another (the same secret
  key signs Dash's job handles; Celery and Redis hold the job and its result);
- /metrics sums over workers (prometheus_client's multiprocess mode): one scrape counts every request.

One gunicorn for the module, stopped by its PID."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import text

from portal.accounts import api_keys
from portal.core.db import Database
from portal.core.states import RunStatus
from portal.predictions import runs
from tests.helpers import (ADMIN_EMAIL, DATA_USE, MODEL, PASSWORD, TEST_STORAGE_KEY, app_with_test_users, cohort_csv,
                           email_of, make_settings, user_of)
from tests.local_servers import free_port, own_postgres_database, stop

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
REDIS = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/11"
WORKERS = 3
API_LIMIT = 8  # calls a minute per API key
METRICS_TOKEN = "made-up-metrics-token-for-tests"
ACCESS_FORMAT = '%(p)s %({x-request-id}o)s %(s)s "%(r)s"'  # pid first: "<1234>"
WAIT_SECONDS = 60
TIMEOUT = 20  # seconds for one HTTP request


@pytest.fixture(scope="module")
def database():
    """A PostgreSQL database of this module's own, dropped at the end."""
    with own_postgres_database("cancer_alpha_workers") as url:
        yield url


class Cluster:
    """The running gunicorn: its URL, its access log, and what the tests prepared in its database."""

    def __init__(self, url: str, access_log: Path, keys: dict[str, str], runs_queued: list[str]):
        self.url, self.access_log, self.keys, self.runs_queued = url, access_log, keys, runs_queued

    def get(self, path: str, http=None, **kwargs) -> requests.Response:
        return self.request("GET", path, http, **kwargs)

    def post(self, path: str, http=None, **kwargs) -> requests.Response:
        return self.request("POST", path, http, **kwargs)

    def request(self, method: str, path: str, http=None, headers=None, **kwargs) -> requests.Response:
        """A request on `http` (a requests.Session, for its cookies and its kept-alive connection) or on a
        fresh connection of its own (`Connection: close`), carrying a request id of its own."""
        headers = {"X-Request-Id": uuid.uuid4().hex, **(headers or {})}
        if http is None:
            headers["Connection"] = "close"
        response = (http or requests).request(method, self.url + path, headers=headers, timeout=TIMEOUT,
                                              allow_redirects=False, **kwargs)
        assert response.headers.get("X-Request-Id") == headers["X-Request-Id"]
        return response

    def pid(self, response: requests.Response) -> int:
        """The pid of the worker that served the response, from the access log (written just after)."""
        request_id = response.headers["X-Request-Id"]
        deadline = time.monotonic() + 10
        while True:
            for line in self.access_log.read_text().splitlines():
                fields = line.split(" ", 2)
                if len(fields) > 1 and fields[1] == request_id:
                    return int(fields[0].strip("<>"))
            assert time.monotonic() < deadline, f"request {request_id} not in the access log"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, models_root, database, tcga, registry):
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    folder = tmp_path_factory.mktemp("workers")
    settings = make_settings(folder, database, models_root, redis_url=REDIS, storage_key=TEST_STORAGE_KEY,
                             api_rate_limit=f"{API_LIMIT} per minute", metrics_token=METRICS_TOKEN)
    # Migrated and given its users here, once, as the deployment's migration job does before pods start
    # (three workers each running the migrations at once would race).
    app = app_with_test_users(settings)
    portal = app.server.extensions["cancer_alpha"]
    researcher = user_of(portal, "researcher")
    keys = {name: api_keys.create_key(portal.db, researcher.id, name)[1]
            for name in ("limited", "spare", "revoked-by-command", "revoked-in-database")}
    queued = []
    with app.server.test_request_context():
        for _ in range(2):
            upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                                      data_use=DATA_USE).upload
            queued.append(runs.queue_run(portal, upload.id, researcher.id, "researcher").id)
    portal.db.dispose()

    port = free_port()
    access_log = folder / "access.log"
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_DATABASE_URL": database,
           "CANCER_ALPHA_MODELS_DIR": str(models_root), "CANCER_ALPHA_DATA_DIR": str(settings.data_dir),
           "CANCER_ALPHA_REDIS_URL": REDIS, "CANCER_ALPHA_SECRET_KEY": settings.secret_key,
           "CANCER_ALPHA_STORAGE_KEY": TEST_STORAGE_KEY, "CANCER_ALPHA_ADMIN_EMAIL": ADMIN_EMAIL,
           "CANCER_ALPHA_ADMIN_PASSWORD": PASSWORD, "CANCER_ALPHA_API_RATE_LIMIT": f"{API_LIMIT} per minute",
           "CANCER_ALPHA_METRICS_TOKEN": METRICS_TOKEN, "CANCER_ALPHA_LOG_FORMAT": "text",
           "CANCER_ALPHA_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(WORKERS),
           "GUNICORN_ACCESS_LOG": str(access_log), "GUNICORN_ACCESS_LOG_FORMAT": ACCESS_FORMAT,
           "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus")}
    gunicorn_log, worker_log = folder / "gunicorn.log", folder / "celery.log"
    with open(gunicorn_log, "w") as out, open(worker_log, "w") as celery_out:
        web = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "portal.wsgi:server"], cwd=ROOT,
                               env=env, stdout=out, stderr=subprocess.STDOUT)
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal.worker", "worker", "--pool=solo",
                                   "-n", "workers-test@%h", "--loglevel=INFO", "--without-heartbeat",
                                   "--without-gossip", "--without-mingle"],
                                  cwd=ROOT, env=env, stdout=celery_out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + WAIT_SECONDS
            while True:  # every worker builds its own app; wait for all of them, and for the Celery worker
                assert web.poll() is None, gunicorn_log.read_text()[-3000:]
                assert worker.poll() is None, worker_log.read_text()[-3000:]
                booted = gunicorn_log.read_text().count("Booting worker")
                try:
                    answered = requests.get(f"{url}/api/v1/ready", timeout=TIMEOUT).status_code == 200
                except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still loading
                    answered = False
                if answered and booted >= WORKERS and "ready" in worker_log.read_text():
                    break
                assert time.monotonic() < deadline, gunicorn_log.read_text()[-3000:]
                time.sleep(0.5)
            yield Cluster(url, access_log, keys, queued)
        finally:
            stop(web)
            stop(worker, seconds=30)
            store.flushdb()


def _sign_in(cluster: Cluster) -> tuple[requests.cookies.RequestsCookieJar, int]:
    """Sign the researcher in through the real form on fresh connections; the cookies and the signing pid."""
    jar = requests.cookies.RequestsCookieJar()
    page = cluster.get("/login", cookies=jar)
    jar.update(page.cookies)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = cluster.post("/login", cookies=jar, data={"email": email_of("researcher"), "password": PASSWORD,
                                                       "csrf": csrf})
    assert answer.status_code == 302, answer.text[:500]
    jar.update(answer.cookies)
    return jar, cluster.pid(answer)


def test_a_session_made_on_one_worker_is_valid_on_the_others(cluster):
    jar, signed_on = _sign_in(cluster)
    assert cluster.get("/_dash-layout").status_code == 401  # without the cookie: refused
    served = set()
    for _ in range(40):  # fresh connections until another worker than the signing one has served the cookie
        answer = cluster.get("/_dash-layout", cookies=jar)
        assert answer.status_code == 200, answer.text[:300]
        served.add(cluster.pid(answer))
        if served - {signed_on}:
            break
    assert served - {signed_on}, f"every request went to worker {signed_on}: no other worker was observed"


def test_a_rate_limit_is_one_limit_across_workers(cluster):
    key = {"Authorization": f"Bearer {cluster.keys['limited']}"}
    answers = [cluster.get("/api/v1/models", headers=key) for _ in range(API_LIMIT + 1)]
    statuses = [answer.status_code for answer in answers]
    pids = {cluster.pid(answer) for answer in answers}
    assert len(pids) >= 2, f"all {len(answers)} calls went to one worker ({pids}): the limit was not shared"
    assert statuses == [200] * API_LIMIT + [429], (statuses, pids)  # per-worker memory would allow 8 each
    assert cluster.get("/api/v1/models", headers={"Authorization": f"Bearer {cluster.keys['spare']}"}).status_code == 200


def _pinned_connections(cluster: Cluster, jar, count: int = 2) -> dict[int, requests.Session]:
    """Kept-alive connections (one requests.Session each, the signed-in cookies on each) to `count` distinct
    workers, found by asking on new connections which pid answers."""
    pinned: dict[int, requests.Session] = {}
    for _ in range(30):
        http = requests.Session()
        http.cookies.update(jar)
        pid = cluster.pid(cluster.get("/api/v1/ready", http=http))
        if pid in pinned:
            http.close()
        else:
            pinned[pid] = http
        if len(pinned) >= count:
            return pinned
    pytest.fail(f"only workers {sorted(pinned)} answered 30 new connections")


@pytest.mark.parametrize("how", ["revoked-by-command", "revoked-in-database"])
def test_a_revoked_key_is_refused_on_the_next_request_on_every_worker(cluster, database, how):
    """Each worker keeps the keys it verified (portal.accounts.verified_keys); a revocation from another
    process, the portal's own or an operator's statement in the database, is refused on the very next
    request on each of them."""
    key = cluster.keys[how]
    header = {"Authorization": f"Bearer {key}"}
    pinned = _pinned_connections(cluster, requests.cookies.RequestsCookieJar())
    for http in pinned.values():  # both workers verify the key and keep it
        assert cluster.get("/api/v1/models", http=http, headers=header).status_code == 200
        assert cluster.get("/api/v1/models", http=http, headers=header).status_code == 200
    db = Database(database)
    try:
        if how == "revoked-by-command":
            api_keys.revoke_key(db, api_keys.key_prefix(key))
        else:
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE api_keys SET revoked_at = now() WHERE prefix = :prefix"),
                                   {"prefix": api_keys.key_prefix(key)})
    finally:
        db.dispose()
    for pid, http in pinned.items():
        answer = cluster.get("/api/v1/models", http=http, headers=header)
        assert (answer.status_code, cluster.pid(answer)) == (401, pid), answer.text[:300]
        http.close()


def test_a_background_job_started_on_one_worker_is_polled_to_its_end_on_another(cluster):
    jar, _ = _sign_in(cluster)
    (start_pid, starter), (poll_pid, poller) = list(_pinned_connections(cluster, jar).items())[:2]
    page = cluster.get("/predict", http=starter)
    assert page.status_code == 200
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                                  page.text, re.S).group(1))
    run_id = cluster.runs_queued[0]
    body = {"output": "predict-finished.data", "outputs": {"id": "predict-finished", "property": "data"},
            "inputs": [{"id": "predict-queued", "property": "data", "value": run_id}], "state": [],
            "changedPropIds": ["predict-queued.data"]}
    started = cluster.post("/_dash-update-component", http=starter, params={"endId": config["end_id"]}, json=body)
    assert started.status_code == 200, started.text[:500]
    handles = started.json()
    assert {"cacheKey", "job"} <= set(handles) and cluster.pid(started) == start_pid
    # polls as the renderer sends them: the signed handles in the query, the inputs' values emptied
    polled = {**body, "inputs": [{**body["inputs"][0], "value": None}]}
    params = {"endId": config["end_id"], "cacheKey": handles["cacheKey"], "job": handles["job"]}
    deadline, polls = time.monotonic() + 45, []
    while True:
        answer = cluster.post("/_dash-update-component", http=poller, params=params, json=polled)
        assert answer.status_code in (200, 204), answer.text[:500]  # 204: handles refused (another secret)
        polls.append(cluster.pid(answer))
        if answer.status_code == 200 and "response" in answer.json():
            break
        assert time.monotonic() < deadline, f"the job did not end within 45 s ({len(polls)} polls)"
        time.sleep(0.25)
    assert polls[-1] == poll_pid != start_pid, (start_pid, polls)  # its end read through another worker
    outcome = answer.json()["response"]["predict-finished"]["data"]
    assert run_id in json.dumps(outcome) and RunStatus.DONE in json.dumps(outcome), outcome
    for http in (starter, poller):
        http.close()


def _scraped(cluster: Cluster) -> str:
    answer = cluster.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


def _health_count(scrape: str) -> float:
    pattern = re.compile(r'^cancer_alpha_http_requests_total\{(?=[^}]*route="/api/v1/health")(?=[^}]*method="GET")'
                         r'(?=[^}]*status="200")[^}]*\} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(scrape))


def test_metrics_sum_over_workers(cluster):
    before = _health_count(_scraped(cluster))
    count, pids = 12, set()
    for _ in range(count):
        answer = cluster.get("/api/v1/health")
        assert answer.status_code == 200
        pids.add(cluster.pid(answer))
    assert len(pids) >= 2, f"all {count} requests went to one worker: nothing to sum"
    scrapes = [_scraped(cluster) for _ in range(3)]  # whichever worker answers, the same total
    assert [_health_count(s) - before for s in scrapes] == [count] * 3, pids
    # scrape-time values are asked once, not summed over workers: one series per state
    jobs = re.findall(r'^cancer_alpha_background_jobs\{state="([^"]+)"\} (\S+)$', scrapes[-1], re.M)
    assert len(jobs) == len(RunStatus) and len({state for state, _ in jobs}) == len(RunStatus), jobs
