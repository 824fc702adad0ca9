"""Retention (portal.retention.purge) on the stored files of real prediction runs (real held-out TCGA
samples), on SQLite and PostgreSQL: records aged by moving their created_at back in the database, purged
by the function, the command and the Celery task; files gone, records marked, one audit entry per record,
and the run page, the explain page, My runs, the download, the grid and the API saying so (410 Gone)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from components import run_figures
from engine.settings import PROJECT_ROOT
from portal.accounts import api_keys
from portal.cli import main
from portal.core.models import AuditEvent, NotebookRun, PredictionRun, Upload, utcnow
from portal.core.states import PurgeReason, RunStatus
from portal.jobs.managers import make_celery
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import figure_store, runs
from portal.retention import periodic, purge
from tests.helpers import (DATA_USE, MODEL, auth, cohort_csv, finished_run, make_settings, post_grid_rows, render_page,
                           user_of)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
REDIS_URL = "redis://127.0.0.1:6379/0"
WORDS = f"purged on {utcnow():%Y-%m-%d} under the retention policy"


def _age(portal, days: int, run=None, upload_id: str | None = None, notebook_id: str | None = None) -> None:
    """Move records' created_at `days` back, as if made then."""
    past = utcnow() - timedelta(days=days)
    with portal.db.session() as session:
        if run is not None:
            session.execute(update(PredictionRun).where(PredictionRun.id == run.id).values(created_at=past))
            upload_id = upload_id or run.upload_id
        if upload_id:
            session.execute(update(Upload).where(Upload.id == upload_id).values(created_at=past))
        if notebook_id:
            session.execute(update(NotebookRun).where(NotebookRun.id == notebook_id).values(created_at=past))


def _purges(portal) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == purge.ACTION)
                                    .order_by(AuditEvent.id)))


def _record(portal, model, record_id):
    with portal.db.session() as session:
        return session.get(model, record_id)


def _files(run) -> list[str]:
    return [f"uploads/{run.upload_id}/input.parquet", f"runs/{run.id}/results.parquet", f"runs/{run.id}/figures.json"]


@pytest.fixture
def aged(app, tcga, registry):
    """Two finished runs of the researcher's with their figures stored: one (with its upload) 31 days old,
    one made now. (Made in a request context of their own: a test that signs clients in must not run inside
    one, whose signed-in user its requests would share.)"""
    portal, made = app.server.extensions["cancer_alpha"], []
    with app.server.test_request_context():
        for n in (4, 3):
            run = finished_run(portal, tcga, registry, n=n)
            figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
            made.append(run)
    old, young = made
    _age(portal, 31, old)
    return old, young


def test_purge_deletes_what_is_older_than_the_policy_and_marks_the_records(portal, aged):
    old, young = aged
    assert all(portal.storage.exists(name) for name in _files(old) + _files(young))
    dry = purge.purge(portal, dry_run=True)
    assert (dry.runs, dry.uploads, dry.files_removed) == ([old.id], [old.upload_id], 0)
    assert all(portal.storage.exists(name) for name in _files(old)) and _purges(portal) == []

    report = purge.purge(portal)
    assert (report.runs, report.uploads, report.notebook_runs, report.files_removed) == ([old.id], [old.upload_id],
                                                                                         [], 3)
    assert not any(portal.storage.exists(name) for name in _files(old))
    assert not (portal.storage.root / "runs" / old.id).exists()
    assert all(portal.storage.exists(name) for name in _files(young))  # younger than the policy: kept
    run, upload = _record(portal, PredictionRun, old.id), _record(portal, Upload, old.upload_id)
    assert (run.purge_reason, upload.purge_reason) == (PurgeReason.RETENTION, PurgeReason.RETENTION)
    assert run.purged_at is not None and run.result_path is None and run.summary["n"] == 4  # counts stay
    assert upload.validation["issues"] == [] and upload.validation["n_samples"] == 4 and upload.validation["purged"]
    entries = _purges(portal)
    assert [(e.target, e.details["kind"], e.details["files"], e.actor) for e in entries] == [
        (old.id, "prediction_run", 2, "system"), (old.upload_id, "upload", 1, "system")]
    assert all(e.details["retention_days"] == 30 for e in entries)
    assert purge.purge(portal).records == 0 and len(_purges(portal)) == 2  # nothing twice
    with pytest.raises(runs.RunError) as gone:
        runs.results(portal, run)
    assert gone.value.status == 410 and WORDS in str(gone.value)
    with pytest.raises(runs.RunError) as again:  # a purged upload is not predicted again
        runs.queue_run(portal, old.upload_id, run.user_id, "researcher")
    assert again.value.status == 410
    readable = runs.readable_finished_runs(portal, run.user_id, "researcher")  # a notebook's input choices
    assert [r.id for r in readable] == [young.id]


def test_a_run_still_going_keeps_its_upload_and_a_run_of_an_old_upload_goes_with_it(portal, tcga, registry):
    researcher = user_of(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                              data_use=DATA_USE).upload
    queued = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    _age(portal, 40, queued)
    report = purge.purge(portal)
    assert (report.left_active, report.runs, report.uploads) == ([queued.id], [], [])
    assert portal.storage.exists(f"uploads/{upload.id}/input.parquet")
    runs.cancel_run(portal, queued.id, researcher.id, "researcher")
    rerun = runs.queue_run(portal, upload.id, researcher.id, "researcher")  # young, but of an old upload
    assert runs.execute_run(portal, rerun.id) == RunStatus.DONE
    report = purge.purge(portal)
    assert sorted(report.runs) == sorted([queued.id, rerun.id]) and report.uploads == [upload.id]
    assert _record(portal, PredictionRun, rerun.id).purged_at is not None
    assert len(_purges(portal)) == 3
    assert purge.purge(portal, days=0, dry_run=True).records == 0


@SQLITE_ONLY
def test_the_pages_downloads_grid_and_api_say_the_run_was_purged(app, aged, client_for):
    old, young = aged
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        sample = str(runs.results(portal, old)["sample_id"].iloc[0])
        purge.purge(portal)
    run_page = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=old.id)
    assert "run-purged" in run_page and WORDS in run_page and "page-not-allowed" not in run_page
    explain_page = render_page(app, portal, "researcher", "/explain/<run_id>/<sample_id>", run_id=old.id,
                               sample_id=sample)
    assert "explain-purged" in explain_page and WORDS in explain_page
    my_runs = render_page(app, portal, "researcher", "/runs")
    assert WORDS in my_runs and my_runs.count(WORDS) == 1  # the young run shows its status

    owner = client_for("researcher")
    download = owner.post("/_dash-update-component", json=_download_request(old.id))
    assert download.status_code == 410 and WORDS in download.get_data(as_text=True)
    assert owner.post("/_dash-update-component", json=_download_request(young.id)).status_code == 200
    grid = post_grid_rows(owner, old.id, {"startRow": 0, "endRow": 10})
    assert grid.status_code == 410 and WORDS in grid.get_data(as_text=True)

    api = app.server.test_client()
    key = auth(api_keys.create_key(portal.db, user_of(portal, "researcher").id, "retention test")[1])
    record = api.get(f"/api/v1/runs/{old.id}", headers=key)
    assert record.status_code == 200 and record.json["purge_reason"] == "retention" and record.json["purged_at"]
    results = api.get(f"/api/v1/runs/{old.id}/results", headers=key)
    assert results.status_code == 410 and results.json["error"]["code"] == "gone"
    assert WORDS in results.json["error"]["message"]
    fresh = api.get(f"/api/v1/runs/{young.id}/results?limit=2", headers=key)
    assert fresh.status_code == 200 and (fresh.json["total"], len(fresh.json["results"])) == (3, 2)
    assert api.get(f"/api/v1/runs/{young.id}/results?limit=5000", headers=key).status_code == 400
    other = auth(api_keys.create_key(portal.db, user_of(portal, "clinician").id, "not shared")[1])
    assert api.get(f"/api/v1/runs/{young.id}/results", headers=other).status_code == 403


def _download_request(run_id: str) -> dict:
    return {"output": "run-download.data", "outputs": {"id": "run-download", "property": "data"},
            "inputs": [{"id": "run-download-csv", "property": "n_clicks", "value": 1},
                       {"id": "run-download-parquet", "property": "n_clicks", "value": None}],
            "state": [{"id": "run-id", "property": "data", "value": run_id}],
            "changedPropIds": ["run-download-csv.n_clicks"]}


@SQLITE_ONLY
def test_notebook_runs_that_read_a_users_samples_are_purged_and_say_so(app, aged, client_for):
    old, _young = aged
    portal = app.server.extensions["cancer_alpha"]
    researcher = user_of(portal, "researcher")
    made = {}
    with app.server.test_request_context():
        for notebook, given, input_run in (("cohort_report", {"model": MODEL}, old.id),  # a user's samples
                                           ("model_evaluation", {"model": MODEL}, None)):  # the registry's
            spec = notebook_catalog.get(portal.caches.notebook_catalog, notebook)
            run = notebook_runs.queue(portal, spec, given, researcher.id, "researcher", input_run=input_run)
            assert notebook_runs.execute(portal, run.id) == RunStatus.DONE
            _age(portal, 31, notebook_id=run.id)
            made[notebook] = run
        report = purge.purge(portal)
    private, public = made["cohort_report"], made["model_evaluation"]
    assert report.notebook_runs == [private.id] and old.id in report.runs
    assert not notebook_runs.run_folder(portal, private.id).exists()
    assert notebook_runs.run_folder(portal, public.id).exists()  # the registry's own data: kept
    marked = _record(portal, NotebookRun, private.id)
    assert marked.purge_reason == PurgeReason.RETENTION and marked.html_path is None
    assert [e.details["kind"] for e in _purges(portal)].count("notebook_run") == 1
    page = render_page(app, portal, "researcher", "/notebooks/runs/<run_id>", run_id=private.id)
    assert "page-not-allowed" not in page and WORDS in page
    answer = client_for("researcher").get(f"/notebook-runs/{private.id}/download/html")
    assert answer.status_code == 410 and WORDS in answer.get_data(as_text=True)


def test_the_purge_command_lists_and_purges(portal, aged, monkeypatch, capsys):
    old, young = aged
    for name, value in (("VAR_DIR", str(portal.settings.var_dir)), ("DATABASE_URL", portal.settings.database_url),
                        ("SECRET_KEY", portal.settings.secret_key), ("MODELS_DIR", str(portal.settings.models_dir))):
        monkeypatch.setenv(f"CANCER_ALPHA_{name}", value)
    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(30 days): would purge 1 upload, 1 prediction run, 0 notebook runs" in out and f"run {old.id}" in out
    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "(30 days): purged 1 upload, 1 prediction run, 0 notebook runs; 3 files removed" in out
    assert main(["purge", "--days", "0"]) == 0  # what is left: the young run too
    out = capsys.readouterr().out
    assert "(0 days): purged 1 upload, 1 prediction run, 0 notebook runs; 3 files removed" in out
    assert f"run {young.id}" in out and len(_purges(portal)) == 4
    with pytest.raises(SystemExit) as refused:
        main(["purge", "--days", "-1"])
    assert refused.value.code == 2 and "--days must be 0 or more" in capsys.readouterr().err


@SQLITE_ONLY
def test_the_celery_beat_schedule_holds_the_purge_and_its_task_purges(portal, aged):
    old, _young = aged
    celery = make_celery(make_settings(portal.settings.var_dir, portal.settings.database_url,
                                       portal.settings.models_dir, redis_url=REDIS_URL))
    periodic.install(celery, portal.settings)
    entry = celery.conf.beat_schedule[periodic.ENTRY]
    assert entry == {"task": periodic.TASK, "schedule": timedelta(hours=1)}
    outcome = celery.tasks[periodic.TASK].apply().get()  # run here, as a worker would
    assert outcome == {"uploads": 1, "runs": 1, "notebook_runs": 0, "files_removed": 3, "left_active": 0}
    assert _record(portal, PredictionRun, old.id).purged_at is not None


def test_the_worker_module_schedules_the_purge(tmp_path, models_root):
    """portal.worker, imported as `celery -A portal.worker beat` imports it, with a Redis URL."""
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_MODELS_DIR": str(models_root),
           "CANCER_ALPHA_REDIS_URL": REDIS_URL, "CANCER_ALPHA_SECRET_KEY": "test-secret-key-not-for-production",
           "CANCER_ALPHA_ADMIN_PASSWORD": "a made-up password for this test"}
    code = ("import json, portal.worker as w; from portal.retention import periodic; "
            "print(json.dumps([{k: v['task'] for k, v in w.celery.conf.beat_schedule.items()}, "
            "periodic.TASK in w.celery.tasks]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    schedule, registered = json.loads(done.stdout.strip().splitlines()[-1])
    assert schedule == {periodic.ENTRY: periodic.TASK} and registered
