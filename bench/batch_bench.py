"""Batch prediction over Celery workers (portal.jobs.batch): prints samples per second for 1 and 2 worker
processes on the same batch.

    python bench/batch_bench.py         (or: make bench)

A throw-away portal (SQLite file, a temporary registry holding the default tissue model's algorithm, a random
forest, trained on GDSC) and Redis (CANCER_ALPHA_BENCH_REDIS_URL, default redis://127.0.0.1:6379/12, flushed
before and after). The batch: the model's real held-out samples repeated to N (ids suffixed -copy-K), chunks of
2,500 (rounded up to whole 1,000-sample pieces: 3,000). Workers: `celery -A portal.worker worker --pool=prefork
-c 1`, one or two processes, started once per count and stopped by PID. Timed from dispatch to the run's DONE
(combine included), median of REPEATS; the one-process path (no Redis) on the same batch for comparison."""
from __future__ import annotations

import dataclasses
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import redis  # noqa: E402

from engine import datasets, training  # noqa: E402
from engine.registry import PRODUCTION_ALIAS, Registry  # noqa: E402
from portal.accounts.users import find_user  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.core.context import Portal  # noqa: E402
from portal.core.models import PredictionRun  # noqa: E402
from portal.core.settings import Settings  # noqa: E402
from portal.core.states import RunStatus  # noqa: E402
from portal.predictions import runs  # noqa: E402

MODEL = "tissue-of-origin"
SAMPLES = 40_000
CHUNK = 2_500
REPEATS = 3
REDIS = os.environ.get("CANCER_ALPHA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
EMAIL, PASSWORD = "bench@example.org", "benchmark password 2026"  # throw-away account, throw-away database
DATA_USE = {"basis": "public", "reference": "GDSC public release (benchmark)"}
TIMEOUT = 600


def train_model(models: Path) -> None:
    dataset = datasets.load("gdsc-tissue")
    result = training.train(dataset, algorithm="random-forest", seed=7, cv_folds=3)
    Registry(models).register(MODEL, result, aliases=(PRODUCTION_ALIAS,))


def batch_file(portal: Portal) -> bytes:
    """The model's real held-out samples repeated to SAMPLES rows (not new patients), as Parquet."""
    version = portal.registry.resolve(MODEL)
    dataset = datasets.load(version.dataset_id)
    real = dataset.X.loc[version.test_ids, version.schema.names]
    copies = [real.set_axis([f"{i}-copy-{k}" for i in real.index]) for k in range(-(-SAMPLES // len(real)))]
    frame = pd.concat(copies).iloc[:SAMPLES].rename_axis(version.schema.id_column).reset_index()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def start_workers(count: int, settings: Settings, var: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(var), "CANCER_ALPHA_DATABASE_URL": settings.database_url,
           "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir), "CANCER_ALPHA_REDIS_URL": REDIS,
           "CANCER_ALPHA_SECRET_KEY": settings.secret_key, "CANCER_ALPHA_DATA_DIR": str(settings.data_dir),
           "CANCER_ALPHA_BATCH_CHUNK_SAMPLES": str(CHUNK), "PYTHONPATH": str(ROOT)}
    workers, logs = [], []
    for k in range(count):
        logs.append(var / f"worker-{count}-{k}.log")
        with open(logs[-1], "w") as log:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal.worker", "worker", "--pool=prefork", "-c", "1",
                 "-n", f"bench-{count}-{k}@%h", "--loglevel=WARNING", "--without-heartbeat", "--without-gossip",
                 "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    time.sleep(1)
    deadline = time.time() + 120
    while not all(_ready(settings, k, count) for k in range(count)):
        for worker, path in zip(workers, logs):
            if worker.poll() is not None:
                raise SystemExit(f"a worker stopped:\n{path.read_text()[-3000:]}")
        if time.time() > deadline:
            raise SystemExit("the workers did not start")
        time.sleep(0.5)
    return workers


def _ready(settings: Settings, k: int, count: int) -> bool:
    from celery import Celery

    app = Celery("bench", broker=REDIS, backend=REDIS)
    try:
        return bool(app.control.ping(destination=[f"bench-{count}-{k}@{os.uname().nodename}"], timeout=1.0))
    finally:
        app.close()


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def timed_run(app, portal: Portal, upload_id: str, user_id: int) -> float:
    with app.server.test_request_context():
        run_id = runs.queue_run(portal, upload_id, user_id, "admin").id
    start = time.perf_counter()
    status = runs.execute_run(portal, run_id)
    while status in RunStatus.active():
        if time.perf_counter() - start > TIMEOUT:
            raise SystemExit(f"run {run_id} did not end in {TIMEOUT} s")
        time.sleep(0.05)
        with portal.db.session() as session:
            status = session.get(PredictionRun, run_id).status
    if status != RunStatus.DONE:
        raise SystemExit(f"run {run_id} ended as {status}")
    return time.perf_counter() - start


def main() -> None:
    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-batch-bench-"))
    train_model(var / "models")
    settings = Settings.from_env(var_dir=var, database_url=f"sqlite:///{var / 'portal.db'}", admin_email=EMAIL,
                                 admin_password=PASSWORD, models_dir=var / "models", redis_url=REDIS,
                                 batch_chunk_samples=CHUNK, max_upload_bytes=500 * 1024 * 1024,
                                 max_cells=100_000_000)
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    app = create_app(settings)
    portal = app.server.extensions["cancer_alpha"]
    user_id = find_user(portal.db, EMAIL).id
    with app.server.test_request_context():
        upload = runs.save_upload(portal, user_id, "batch.parquet", batch_file(portal), MODEL, data_use=DATA_USE).upload
    print(f"{MODEL} (random forest, {len(portal.registry.resolve(MODEL).schema.names)} features): "
          f"{upload.n_samples:,} real held-out samples repeated, chunks of {CHUNK:,} (rounded up to 3,000), "
          f"median of {REPEATS}; 2 cores on this machine")
    alone = Portal.from_settings(dataclasses.replace(settings, redis_url=None))
    seconds = statistics.median(timed_run(app, alone, upload.id, user_id) for _ in range(REPEATS))
    print(f"  one process, no Celery:   {upload.n_samples / seconds:8,.0f} samples/s ({seconds:.2f} s)")
    try:
        for count in (1, 2):
            workers = start_workers(count, settings, var)
            try:
                timed_run(app, portal, upload.id, user_id)  # warm: each worker loads the model once
                seconds = statistics.median(timed_run(app, portal, upload.id, user_id) for _ in range(REPEATS))
            finally:
                stop(workers)
            print(f"  {count} Celery worker process{'es' if count > 1 else '  '}: "
                  f"{upload.n_samples / seconds:8,.0f} samples/s ({seconds:.2f} s)")
    finally:
        store.flushdb()


if __name__ == "__main__":
    main()
