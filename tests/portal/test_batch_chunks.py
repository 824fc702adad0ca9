"""Batch prediction over Celery workers (portal.jobs.batch): one 20,000-sample run split into chunks on two
real worker processes (`celery -A portal.worker worker`, prefork, one slot each), on PostgreSQL and the Redis
on 127.0.0.1 (database 12), compared sample by sample with the same run predicted in one process; a cancel
that reaches every chunk; a run under the chunk size that stays one task."""
from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import redis
from pandas.testing import assert_frame_equal
from sqlalchemy import create_engine, select, text

from portal.core.context import Portal
from portal.core.models import AuditEvent, PredictionRun
from portal.core.states import RunStatus
from portal.jobs import batch
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, app_with_test_users, held_out_frame, make_settings, user_of

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/12"
SAMPLES = 20_000
CHUNK_SETTING = 2_500  # rounded up to whole pieces of runs.CHUNK: chunks of 3,000, so 7 chunks
WORKERS = ("batch-one", "batch-two")
WAIT = 90  # seconds a worker may take to start, or a run to end


@pytest.fixture(scope="module")
def large_cohort(tcga, registry) -> bytes:
    """A Parquet upload of 20,000 samples for MODEL. These are the model's real held-out TCGA samples
    (with their true classes) repeated until there are 20,000 rows, the ids suffixed `-copy-N`: real samples
    repeated to reach the size of a large batch, not new patients."""
    real = held_out_frame(tcga, registry)
    id_column = real.columns[0]
    copies = []
    for n in range(-(-SAMPLES // len(real))):
        copy = real.copy()
        copy[id_column] = copy[id_column].astype(str) + f"-copy-{n}"
        copies.append(copy)
    frame = pd.concat(copies, ignore_index=True).iloc[:SAMPLES]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _start_worker(name: str, env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    try:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal.worker", "worker", "--pool=prefork",
                                 "-c", "1", "-n", f"{name}@%h", "--loglevel=INFO", "--without-heartbeat",
                                 "--without-gossip", "--without-mingle"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()  # the worker holds its own copy of the file


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_database, models_root):
    """A portal on a fresh PostgreSQL schema and two Celery workers sharing its settings (chunks of
    CHUNK_SETTING samples), started once for the module and stopped by PID."""
    engine = create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    folder = tmp_path_factory.mktemp("batch")
    settings = make_settings(folder, postgres_database, models_root, redis_url=REDIS,
                             batch_chunk_samples=CHUNK_SETTING)
    app = app_with_test_users(settings)
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_DATABASE_URL": postgres_database,
           "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir), "CANCER_ALPHA_REDIS_URL": REDIS,
           "CANCER_ALPHA_SECRET_KEY": settings.secret_key, "CANCER_ALPHA_DATA_DIR": str(settings.data_dir),
           "CANCER_ALPHA_BATCH_CHUNK_SAMPLES": str(CHUNK_SETTING)}
    logs = {name: folder / f"{name}.log" for name in WORKERS}
    workers = [_start_worker(name, env, logs[name]) for name in WORKERS]
    try:
        deadline = time.time() + WAIT
        while not all("ready" in path.read_text() for path in logs.values()):
            for worker, path in zip(workers, logs.values()):
                assert worker.poll() is None, path.read_text()[-3000:]
            assert time.time() < deadline, "the workers did not start"
            time.sleep(0.3)
        yield app, settings, logs
    finally:
        for worker in workers:
            worker.terminate()  # warm shutdown
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
        app.server.extensions["cancer_alpha"].db.dispose()
        store.flushdb()


@pytest.fixture(scope="module")
def large_upload(cluster, large_cohort):
    app, _settings, _logs = cluster
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        owner = user_of(portal, "researcher")
        outcome = runs.save_upload(portal, owner.id, "large-cohort.parquet", large_cohort, MODEL, data_use=DATA_USE)
    assert outcome.report["ok"], outcome.report
    return app, portal, owner, outcome.upload


def _queue(app, portal, owner, upload) -> str:
    with app.server.test_request_context():
        return runs.queue_run(portal, upload.id, owner.id, "researcher").id


def _run(portal, run_id) -> PredictionRun:
    with portal.db.session() as session:
        return session.get(PredictionRun, run_id)


def _wait_until_ended(portal, run_id, logs: dict) -> PredictionRun:
    deadline = time.time() + WAIT
    while (run := _run(portal, run_id)).status in RunStatus.active():
        assert time.time() < deadline, f"run still {run.status} at {run.progress_done} samples\n" + _log_tails(logs)
        time.sleep(0.2)
    return run


def _chunk_lines(logs: dict, run_id: str) -> dict[str, list[tuple[int, str, int]]]:
    """Per worker, its chunks of the run: (chunk number, outcome, samples predicted)."""
    pattern = re.compile(rf"batch run {run_id}: chunk (\d+) of \d+ (\w+), (\d+) samples predicted")
    return {name: [(int(a), b, int(c)) for a, b, c in pattern.findall(path.read_text())] for name, path in logs.items()}


def _log_tails(logs: dict) -> str:
    """The end of each worker's log, for a failure's message (what a worker did is only there)."""
    return "\n".join(f"--- {name}\n{path.read_text()[-4000:]}" for name, path in logs.items())


def _wait_for_combine(logs: dict, run_id: str) -> None:
    deadline = time.time() + WAIT
    while not any(f"batch run {run_id} combined" in path.read_text() for path in logs.values()):
        assert time.time() < deadline, "the combine step did not run\n" + _log_tails(logs)
        time.sleep(0.2)


def _chunk_files(portal, run_id: str) -> list[str]:
    return [name for name in portal.storage.names() if name.startswith(f"runs/{run_id}/chunks/")]


def test_a_large_run_spread_over_two_workers_equals_the_one_process_run(cluster, large_upload):
    _app, settings, logs = cluster
    app, portal, owner, upload = large_upload
    chunked, alone = _queue(app, portal, owner, upload), _queue(app, portal, owner, upload)

    assert runs.execute_run(portal, chunked) == RunStatus.RUNNING  # sent to the workers, not predicted here
    one_process = Portal.from_settings(dataclasses.replace(settings, redis_url=None))
    try:
        assert runs.execute_run(one_process, alone) == RunStatus.DONE
    finally:
        one_process.db.dispose()
    run = _wait_until_ended(portal, chunked, logs)
    assert run.status == RunStatus.DONE, run.error
    assert run.progress_done == run.progress_total == SAMPLES  # summed over the chunks

    lines = _chunk_lines(logs, chunked)
    assert all(lines.values()), f"a worker ran no chunk: {lines}"  # both workers took chunks
    done = sorted(chunk for chunks in lines.values() for chunk, outcome, _ in chunks if outcome == batch.PREDICTED)
    assert done == list(range(1, 8))  # 20,000 in chunks of 3,000 (2,500 rounded up to whole pieces)

    spread = runs.results(portal, run)
    reference = runs.results(portal, _run(portal, alone))
    assert spread["sample_id"].tolist() == reference["sample_id"].tolist()  # the same ids in the same order
    assert spread["sample_id"].iloc[-1].endswith("-copy-45")
    assert_frame_equal(spread, reference, check_exact=True)  # classes and probabilities to the last bit
    assert run.summary == _run(portal, alone).summary
    assert _chunk_files(portal, chunked) == []
    with portal.db.session() as session:
        entries = session.scalars(select(AuditEvent).where(AuditEvent.action == "prediction.run",
                                                           AuditEvent.target == chunked)).all()
    assert [(e.outcome, e.details["samples"], e.actor) for e in entries] == [("ok", SAMPLES, "researcher@example.org")]


def test_cancel_reaches_every_chunk(cluster, large_upload):
    _app, _settings, logs = cluster
    app, portal, owner, upload = large_upload
    run_id = _queue(app, portal, owner, upload)
    assert runs.execute_run(portal, run_id) == RunStatus.RUNNING
    deadline = time.time() + WAIT
    while _run(portal, run_id).progress_done == 0:  # the first piece of a chunk is predicted
        assert time.time() < deadline
        time.sleep(0.01)
    with app.server.test_request_context():
        runs.cancel_run(portal, run_id, owner.id, "researcher")
    at_cancel = _run(portal, run_id).progress_done

    _wait_for_combine(logs, run_id)
    run = _run(portal, run_id)
    assert run.status == RunStatus.CANCELLED and run.result_path is None
    # the two chunks being predicted finish at most the piece they were in; no later piece or chunk predicts
    assert run.progress_done - at_cancel <= len(WORKERS) * runs.CHUNK
    assert run.progress_done < SAMPLES
    chunks = [chunk for worker in _chunk_lines(logs, run_id).values() for chunk in worker]
    assert len(chunks) == 7 and sum(predicted for *_, predicted in chunks) == run.progress_done
    # the chunks that predicted anything: those with pieces done at the cancel, and at most one more a slot
    assert sum(predicted > 0 for *_, predicted in chunks) <= at_cancel // runs.CHUNK + len(WORKERS)
    assert any(outcome == batch.STOPPED and predicted == 0 for _, outcome, predicted in chunks)  # never started
    assert _chunk_files(portal, run_id) == []
    assert not portal.storage.exists(runs._results_name(run_id))
    with portal.db.session() as session:
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.target == run_id)).all() == [
            "prediction.queue", "prediction.cancel"]  # and no prediction.run


def test_a_run_under_the_chunk_size_stays_one_task(cluster, large_upload, tcga, registry):
    _app, _settings, logs = cluster
    app, portal, owner, _upload = large_upload
    small = held_out_frame(tcga, registry, n=CHUNK_SETTING).to_csv(index=False).encode()  # 442 real samples
    with app.server.test_request_context():
        upload = runs.save_upload(portal, owner.id, "small.csv", small, MODEL, data_use=DATA_USE).upload
    run_id = _queue(app, portal, owner, upload)
    assert runs.execute_run(portal, run_id) == RunStatus.DONE  # predicted here, in the job that started it
    assert not any(f"batch run {run_id}" in path.read_text() for path in logs.values())
    assert _run(portal, run_id).progress_done == upload.n_samples
