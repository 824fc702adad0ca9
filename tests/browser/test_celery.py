"""Background runs on Celery with the Redis on 127.0.0.1 and a real worker process (`celery -A
portal.worker worker`), driven from the browser like the diskcache runs."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.helpers import (PASSWORD, TRAINING_SEED, app_with_test_users, email_of, make_settings, set_parameter,
                           submit_sign_in, upload)

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"


@pytest.fixture
def celery_portal(tmp_path, models_root):
    """A portal and a Celery worker sharing settings (database, storage, registry, Redis database 14)."""
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root, redis_url=REDIS)
    app = app_with_test_users(settings)
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_DATABASE_URL": settings.database_url,
           "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir), "CANCER_ALPHA_REDIS_URL": REDIS,
           "CANCER_ALPHA_SECRET_KEY": settings.secret_key, "CANCER_ALPHA_DATA_DIR": str(settings.data_dir)}
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal.worker", "worker", "--pool=solo",
                               "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while "ready" not in (tmp_path / "worker.log").read_text() and time.time() < deadline:
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        time.sleep(0.5)
    yield app, tmp_path / "worker.log"
    worker.terminate()
    worker.wait(timeout=30)
    log.close()
    store.flushdb()


def test_a_run_completes_in_the_celery_worker(dash_duo, celery_portal, example_file):
    app, worker_log = celery_portal
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    submit_sign_in(dash_duo, email_of("researcher"), PASSWORD)
    dash_duo.server_url = dash_duo.server.url
    upload(dash_duo, example_file)
    dash_duo.wait_for_contains_text("#report-ok", "442 samples passed validation", timeout=30)
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#run-grid", timeout=90)
    dash_duo.wait_for_contains_text("#run-label-metrics", "442 labelled samples", timeout=30)
    assert "succeeded" in worker_log.read_text()  # the job ran in the worker, not in the web process
    assert dash_duo.get_logs() == []


def test_a_notebook_runs_in_the_celery_worker(dash_duo, celery_portal):
    app, worker_log = celery_portal
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    submit_sign_in(dash_duo, email_of("analyst"), PASSWORD)
    dash_duo.server_url = dash_duo.server.url
    dash_duo.wait_for_page(url=dash_duo.server.url + "/notebooks?notebook=model_evaluation")
    dash_duo.wait_for_contains_text("#notebook-description", "held-out metrics", timeout=20)
    set_parameter(dash_duo, "seed", str(TRAINING_SEED))
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=180)
    assert "succeeded" in worker_log.read_text()
    assert dash_duo.get_logs() == []
