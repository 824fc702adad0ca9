"""Redis down, PostgreSQL still up: a portal on a redis-server this test starts itself answers API predictions
before and after that Redis is killed. Afterwards the rate limit is still enforced (in memory, per process),
the result cache is off (misses, no errors), readiness says degraded with Redis down, and the log says so
once rather than on every request."""
from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import time

import pytest
import redis
from sqlalchemy import create_engine, text

from portal.accounts import api_keys
from portal.readiness import DEGRADED, READY
from tests.helpers import DATA_USE, MODEL, auth, user_of
from tests.local_servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
LIMIT = 4  # API calls a minute per key: small, so the in-memory fallback's limit is reached within the test
WAIT_SECONDS = 15


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free loopback port (no persistence), stopped by its PID."""
    port = free_port()
    log = open(tmp_path / "redis.log", "w")
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if redis.Redis.from_url(url, socket_timeout=0.5).ping():
                    break
            except redis.ConnectionError:
                assert process.poll() is None, (tmp_path / "redis.log").read_text()
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


@pytest.fixture
def postgres_url(postgres_database):
    engine = create_engine(postgres_database)
    with engine.begin() as connection:  # an empty schema for this test
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return postgres_database


def test_the_api_keeps_answering_when_redis_goes_down(own_redis, postgres_url, make_portal, tcga, registry, caplog):
    process, redis_url = own_redis
    app = make_portal(postgres_url, redis_url=redis_url, api_rate_limit=f"{LIMIT} per minute")
    client = app.server.test_client()
    db = app.server.extensions["cancer_alpha"].db
    _, key = api_keys.create_key(db, user_of(app.server.extensions["cancer_alpha"], "researcher").id, "redis-down key")
    sample_id = registry.resolve(MODEL).test_ids[0]
    body = {"samples": [{"id": sample_id, "features": {k: float(v) for k, v in tcga.X.loc[sample_id].items()}}],
            "data_use": DATA_USE}

    def predict():
        return client.post(f"/api/v1/models/{MODEL}/predict", json=body, headers=auth(key))

    first = predict()
    assert first.status_code == 200, first.get_json()
    store = redis.Redis.from_url(redis_url)
    assert store.keys("cancer-alpha:api:*"), "the result cache was not on Redis"  # Redis really was in use
    assert any(b"cancer-alpha" in name and b"api-key" in name for name in store.keys("*")), "limits not on Redis"
    store.close()
    ready = client.get("/api/v1/ready").get_json()
    assert ready["status"] == READY and ready["checks"]["redis"] == "ok"

    process.send_signal(signal.SIGKILL)  # as a crash: no goodbye to the clients
    process.wait(timeout=10)

    with caplog.at_level(logging.INFO):
        answers = [predict() for _ in range(LIMIT + 2)]
        probes = [client.get("/api/v1/ready") for _ in range(3)]
    statuses = [answer.status_code for answer in answers]
    # limits in memory now: this process counts afresh from the outage, and still refuses past the limit
    assert statuses == [200] * LIMIT + [429, 429], statuses
    assert all(a.get_json()["predictions"][0]["class"] == first.get_json()["predictions"][0]["class"]
               for a in answers[:LIMIT])
    assert answers[LIMIT].get_json()["error"]["code"] == "rate-limited" and answers[LIMIT].headers["Retry-After"]

    assert all(probe.status_code == 200 for probe in probes)  # degraded: kept in rotation (portal.readiness)
    verdict = probes[0].get_json()
    assert verdict["status"] == DEGRADED and verdict["checks"]["redis"].startswith("down")
    assert verdict["checks"]["database"] == "ok" and verdict["checks"][f"model:{MODEL}"] == "ok"
    assert "Celery" in verdict["checks"]["redis"]  # background runs wait for Redis: said, not hidden

    messages = [record.getMessage() for record in caplog.records]
    assert sum("Redis is down" in m for m in messages) == 1, messages  # readiness: once for three probes
    assert sum("result cache unavailable" in m for m in messages) == 1, messages  # once for six requests
    assert sum("rate-limit storage unavailable" in m for m in messages) == 1, messages  # portal.api.limits
