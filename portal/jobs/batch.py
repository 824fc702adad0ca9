"""Batch prediction over Celery workers. Where Celery runs (a Redis URL is set), a run of more samples than
CANCER_ALPHA_BATCH_CHUNK_SAMPLES is split into chunks, one Celery task each, that any worker takes; they form
a chord into a combine task, which concatenates their results in chunk order and completes the run exactly as
one process does (portal.predictions.runs.complete_run: encrypted results, summary, the one `prediction.run`
entry). Guarantees:

- Patient data never pass through Redis: each chunk's input and results are files of the encrypted storage
  (`runs/<id>/chunks/`), removed by the combine task whatever the run's end (done, cancelled, failed).
- Results equal the one-process results to the last bit: a chunk is a whole number of runs.CHUNK pieces (the
  setting is rounded up to one), so every sample is predicted in the same piece of the same size as in one
  process (a batch's size changes BLAS's blocking, and with it the last bit of the distances).
- Progress is summed over chunks in the database (progress_done = progress_done + n, one UPDATE a piece), so
  the run page's bar works unchanged. Cancel reaches every chunk: each reads the run's status before it
  starts and before each piece. A chunk that fails marks the run FAILED (one audit entry: runs.fail_run is
  guarded by the status) and the others stop at their next piece.
- Nothing waits on another task: the dispatching job returns once the chord is sent (the run page polls the
  run record), so a single worker slot (`--pool=solo`) runs the chunks and the combine one after another.
  Chunk tasks never raise (a failure is recorded and returned as an outcome), so the combine always runs and
  cleans up. A worker killed mid-chunk leaves the run RUNNING (no retry of chunks)."""
from __future__ import annotations

import logging
import math

import pandas as pd
from celery import chord
from sqlalchemy import select, update

from portal import request_ids
from portal.core.context import Portal, standalone
from portal.core.models import PredictionRun
from portal.core.settings import Settings
from portal.core.states import RunStatus
from portal.jobs.managers import make_celery
from portal.predictions import runs

log = logging.getLogger(__name__)

CHUNK_TASK = "cancer_alpha.batch.chunk"
COMBINE_TASK = "cancer_alpha.batch.combine"
PREDICTED, STOPPED, FAILED = "predicted", "stopped", "failed"  # a chunk's outcome


def chunk_samples(settings: Settings) -> int:
    """Samples a chunk holds: the setting rounded up to whole runs.CHUNK pieces (see the module's docstring)."""
    return math.ceil(settings.batch_chunk_samples / runs.CHUNK) * runs.CHUNK


def is_chunked(settings: Settings, run: PredictionRun) -> bool:
    """Celery runs and the run has more samples than a chunk: it is spread over the workers."""
    return bool(settings.redis_url) and run.progress_total > settings.batch_chunk_samples


def chunk_input_name(run_id: str, index: int) -> str:
    return f"runs/{run_id}/chunks/{index:05d}-input.parquet"


def chunk_results_name(run_id: str, index: int) -> str:
    return f"runs/{run_id}/chunks/{index:05d}-results.parquet"


def dispatch(portal: Portal, run: PredictionRun) -> int:
    """Split a claimed (RUNNING) run's stored input into encrypted chunk files and send the chord; returns
    the number of chunks. The chunk files are removed again if sending fails."""
    runs.checked_model(portal, run)  # a changed artifact fails the run here, before any chunk is written
    frame = portal.storage.get_frame(runs._input_name(run.upload_id))
    size = chunk_samples(portal.settings)
    n_chunks = math.ceil(len(frame) / size)
    origin = (request_ids.current(), request_ids.client_address())  # the request that started the run
    celery = make_celery(portal.settings)
    try:
        for index in range(n_chunks):
            portal.storage.put_frame(chunk_input_name(run.id, index), frame.iloc[index * size:(index + 1) * size])
        del frame
        header = [celery.signature(CHUNK_TASK, args=(run.id, index, n_chunks), kwargs={"origin": origin})
                  for index in range(n_chunks)]
        body = celery.signature(COMBINE_TASK, kwargs={"run_id": run.id, "n_chunks": n_chunks, "origin": origin})
        chord(header, app=celery)(body)
    except BaseException:
        remove_chunk_files(portal, run.id, n_chunks)
        raise
    finally:
        celery.close()
    log.info("batch run %s: %d samples in %d chunks of %d sent to the workers", run.id, run.progress_total,
             n_chunks, size)
    return n_chunks


def _running_run(portal: Portal, run_id: str) -> PredictionRun | None:
    with portal.db.session() as session:
        run = session.get(PredictionRun, run_id)
        return run if run is not None and run.status == RunStatus.RUNNING else None


def _add_progress(portal: Portal, run_id: str, n: int) -> None:
    with portal.db.session() as session:  # atomic: chunks on other workers add theirs at the same time
        session.execute(update(PredictionRun).where(PredictionRun.id == run_id)
                        .values(progress_done=PredictionRun.progress_done + n))


def run_chunk(portal: Portal, run_id: str, index: int, n_chunks: int) -> dict:
    """Predict one chunk into its encrypted results file; the outcome (counts only, no patient data)."""
    predicted = 0
    run = _running_run(portal, run_id)
    outcome = STOPPED
    if run is not None:
        try:
            model = runs.checked_model(portal, run)
            frame = portal.storage.get_frame(chunk_input_name(run_id, index))

            def added(n: int, _done: int) -> None:
                nonlocal predicted
                _add_progress(portal, run_id, n)
                predicted += n

            results = runs.predict_pieces(portal, run_id, model, frame, added)
            if results is not None:
                portal.storage.put_frame(chunk_results_name(run_id, index), results)
                outcome = PREDICTED
        except Exception as error:  # recorded on the run (once); the others stop at their next piece
            log.exception("batch run %s: chunk %d failed", run_id, index)
            runs.fail_run(portal, run, error)
            outcome = FAILED
    log.info("batch run %s: chunk %d of %d %s, %d samples predicted", run_id, index + 1, n_chunks, outcome,
             predicted)
    return {"index": index, "outcome": outcome, "predicted": predicted}


def combine(portal: Portal, run_id: str, outcomes: list[dict], n_chunks: int) -> str:
    """Concatenate the chunks' results in chunk order and complete the run, unless it was cancelled or a chunk
    failed; remove the chunk files in every case. Returns the run's final status."""
    try:
        run = _running_run(portal, run_id)
        every_chunk = sorted(o["index"] for o in outcomes if o["outcome"] == PREDICTED) == list(range(n_chunks))
        if run is None or not every_chunk:
            if run is not None:  # running, yet a chunk stopped: nothing says why, so nothing is claimed done
                runs.fail_run(portal, run, RuntimeError("a chunk of the batch did not finish"))
            return _status(portal, run_id)
        model = runs.checked_model(portal, run)
        results = pd.concat([portal.storage.get_frame(chunk_results_name(run_id, index)) for index in range(n_chunks)],
                            ignore_index=True)
        return runs.complete_run(portal, run, model, results)
    except Exception as error:
        log.exception("batch run %s: combining the chunks failed", run_id)
        run = _running_run(portal, run_id)
        if run is not None:
            runs.fail_run(portal, run, error)
        return _status(portal, run_id)
    finally:
        remove_chunk_files(portal, run_id, n_chunks)
        log.info("batch run %s combined: %s", run_id, _status(portal, run_id))


def remove_chunk_files(portal: Portal, run_id: str, n_chunks: int) -> None:
    for index in range(n_chunks):
        portal.storage.delete(chunk_input_name(run_id, index))
        portal.storage.delete(chunk_results_name(run_id, index))


def _status(portal: Portal, run_id: str) -> str:
    with portal.db.session() as session:
        return session.scalar(select(PredictionRun.status).where(PredictionRun.id == run_id))


def install(celery, settings: Settings) -> None:
    """Register the chunk and combine tasks on the worker's Celery app (portal/worker.py), under names that
    are the same in every process. One task at a time is reserved per worker slot, so idle workers take the
    next chunks rather than one worker holding several."""
    def chunk_task(run_id: str, index: int, n_chunks: int, origin=(None, None)) -> dict:
        with request_ids.started_by(*origin):  # a failure's audit entry carries the starting request's id
            return run_chunk(standalone(settings), run_id, index, n_chunks)

    def combine_task(outcomes: list[dict], run_id: str, n_chunks: int, origin=(None, None)) -> str:
        with request_ids.started_by(*origin):  # the run's audit entry carries the starting request's id
            return combine(standalone(settings), run_id, outcomes, n_chunks)

    celery.task(name=CHUNK_TASK)(chunk_task)
    celery.task(name=COMBINE_TASK)(combine_task)
    celery.conf.worker_prefetch_multiplier = 1
