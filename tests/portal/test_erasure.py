"""Erasure (portal.retention.erasure) on the stored files of real prediction runs of real held-out TCGA
samples, on SQLite and PostgreSQL: one sample erased from every upload and result that holds it (the rest
re-encrypted, summaries worked out again, figures drawn again without it, its reviews gone), a file left
with no sample deleted and its record marked, what was touched printed and audited by the sample id's
sha256; a user deletes their own uploads (an admin any); stored names never come from what a user sends."""
from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest
from sqlalchemy import func, select

from components import run_figures
from portal.accounts.users import create_user
from portal.cli import main
from portal.core.context import Portal
from portal.core.models import AuditEvent, NotebookRun, PredictionRun, SampleReview, Upload
from portal.core.states import PurgeReason, RunStatus
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import figure_store, lifecycle, result_rows, reviews, runs, sharing
from portal.retention import erasure
from tests.helpers import DATA_USE, MODEL, cohort_csv, email_of, finished_run, held_out_frame, render_page, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _entries(portal, action: str = erasure.ACTION) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _record(portal, model, record_id):
    with portal.db.session() as session:
        return session.get(model, record_id)


def _ids(frame: pd.DataFrame, column: str = "sample_id") -> list[str]:
    return frame[column].astype(str).tolist()


@pytest.fixture
def two_runs(portal, tcga, registry):
    """Runs of the researcher's on the first 5 and the first 3 real held-out samples (3 samples in both),
    figures stored, the first shared with the clinician, who reviews its first sample."""
    big, small = finished_run(portal, tcga, registry, n=5), finished_run(portal, tcga, registry, n=3)
    for run in (big, small):
        figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
    researcher, clinician = user_of(portal, "researcher"), user_of(portal, "clinician")
    sharing.share_with_users(portal, big.id, [email_of("clinician")], researcher.id, "researcher")
    first = _ids(runs.results(portal, big))[0]
    reviews.record(portal, big.id, first, "agree", "looks right", clinician.id, "clinician")
    return big, small, first


def test_one_sample_is_erased_from_every_upload_and_result_that_holds_it(portal, two_runs):
    big, small, sample = two_runs
    stored = {name: (portal.storage.root / name).read_bytes() for name in portal.storage.names()}
    kept_big = [i for i in _ids(runs.results(portal, big)) if i != sample]
    report = erasure.erase_sample(portal, sample)
    assert report.runs == {big.id: 1, small.id: 1}
    assert report.uploads == {big.upload_id: 1, small.upload_id: 1}
    assert (report.emptied, report.reviews, report.notebook_runs) == ([], 1, [])
    for run in (big, small):
        run = _record(portal, PredictionRun, run.id)
        results = runs.results(portal, run)
        assert sample not in _ids(results) and run.revised_at is not None
        assert run.summary["n"] == len(results) == run.progress_total
        assert run.summary["labels"]["n"] == len(results)  # agreement with the file's labels, again
        upload = portal.storage.get_frame(f"uploads/{run.upload_id}/input.parquet")
        assert sample not in _ids(upload, "__id__") and _record(portal, Upload, run.upload_id).n_samples == len(upload)
        assert not portal.storage.exists(f"runs/{run.id}/figures.json")  # dropped: drawn again when opened
        for name in (f"uploads/{run.upload_id}/input.parquet", f"runs/{run.id}/results.parquet"):
            assert (portal.storage.root / name).read_bytes() != stored[name]  # rewritten, encrypted again
            assert not (portal.storage.root / name).read_bytes().startswith(b"PAR1")
    assert _ids(runs.results(portal, _record(portal, PredictionRun, big.id))) == kept_big  # the others, in order
    redrawn = figure_store.figures(portal, _record(portal, PredictionRun, big.id), run_figures.FORMAT,
                                   run_figures.draw)
    assert sample not in str(redrawn) and kept_big[0] in str(redrawn)
    with portal.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SampleReview)) == 0
    entries = _entries(portal)
    digest = hashlib.sha256(sample.encode()).hexdigest()
    assert sorted(e.target for e in entries) == sorted([big.id, small.id, big.upload_id, small.upload_id])
    assert all(e.details["sample_sha256"] == digest and sample not in str(e.details) for e in entries)
    assert {e.details["kind"] for e in entries} == {"prediction_run", "upload"}
    again = erasure.erase_sample(portal, sample)  # nowhere now: one entry says the request was met
    assert again.touched == 0 and _entries(portal)[-1].target is None and len(_entries(portal)) == 5


def test_another_process_erasing_is_seen_through_this_ones_caches(portal, two_runs):
    big, _small, sample = two_runs
    assert sample in _ids(result_rows.grid_table(portal, big))  # read once: kept in this portal's caches
    elsewhere = Portal(settings=portal.settings, db=portal.db, registry=portal.registry)  # as the command does
    erasure.erase_sample(elsewhere, sample)
    fresh = _record(portal, PredictionRun, big.id)
    assert sample not in _ids(result_rows.grid_table(portal, fresh))
    _, ids = runs.upload_matrix(portal, fresh, portal.registry.get(MODEL, 1).schema.names)
    assert sample not in ids
    with pytest.raises(runs.RunError) as gone:
        runs.sample_input(portal, fresh, sample, portal.registry.get(MODEL, 1).schema.names)
    assert gone.value.status == 404


def test_a_file_left_with_no_sample_is_deleted_and_its_record_marked(app, portal, tcga, registry):
    alone = finished_run(portal, tcga, registry, n=1)
    sample = _ids(runs.results(portal, alone))[0]
    report = erasure.erase_sample(portal, sample)
    assert sorted(report.emptied) == sorted([alone.id, alone.upload_id])
    assert not portal.storage.exists(f"runs/{alone.id}/results.parquet")
    assert not portal.storage.exists(f"uploads/{alone.upload_id}/input.parquet")
    run, upload = _record(portal, PredictionRun, alone.id), _record(portal, Upload, alone.upload_id)
    assert (run.purge_reason, upload.purge_reason) == (PurgeReason.ERASURE, PurgeReason.ERASURE)
    assert (run.progress_total, upload.n_samples) == (0, 0)
    page = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=alone.id)
    assert "run-purged" in page and "erased on" in page and "at a data subject" in page
    assert all(e.details["emptied"] for e in _entries(portal))


def test_the_erase_command_prints_what_it_touched(portal, two_runs, monkeypatch, capsys):
    big, small, sample = two_runs
    spec = notebook_catalog.get(portal.caches.notebook_catalog, "cohort_report")
    researcher = user_of(portal, "researcher")
    cohort = notebook_runs.queue(portal, spec, {"model": MODEL}, researcher.id, "researcher", input_run=small.id)
    assert notebook_runs.execute(portal, cohort.id) == RunStatus.DONE
    for name, value in (("VAR_DIR", str(portal.settings.var_dir)), ("DATABASE_URL", portal.settings.database_url),
                        ("SECRET_KEY", portal.settings.secret_key), ("MODELS_DIR", str(portal.settings.models_dir))):
        monkeypatch.setenv(f"CANCER_ALPHA_{name}", value)
    assert main(["erase", "--sample", sample, "--by", email_of("admin")]) == 0
    out = capsys.readouterr().out
    assert "2 uploads, 2 prediction runs, 4 rows removed" in out
    assert f"  run {big.id}: 1 row removed, the rest re-encrypted" in out
    assert f"  notebook run {cohort.id}: its files deleted" in out and "1 review of the sample removed" in out
    assert sample not in out  # the id is shown only as its sha256
    assert not notebook_runs.run_folder(portal, cohort.id).exists()
    assert _record(portal, NotebookRun, cohort.id).purge_reason == PurgeReason.ERASURE
    assert {e.actor for e in _entries(portal)} == {email_of("admin")} and len(_entries(portal)) == 5
    assert main(["erase", "--sample", sample]) == 0
    assert "held by no stored upload or result: nothing changed" in capsys.readouterr().out


def test_erasure_waits_for_a_run_that_reads_the_sample(portal, tcga, registry):
    researcher = user_of(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                              data_use=DATA_USE).upload
    queued = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    sample = _ids(portal.storage.get_frame(f"uploads/{upload.id}/input.parquet"), "__id__")[0]
    with pytest.raises(runs.RunError) as refused:
        erasure.erase_sample(portal, sample)
    message = str(refused.value)
    assert refused.value.status == 409 and queued.id in message and "nothing was changed" in message
    assert len(portal.storage.get_frame(f"uploads/{upload.id}/input.parquet")) == 3 and _entries(portal) == []


def test_validation_messages_naming_the_sample_are_removed(portal, tcga, registry):
    frame = held_out_frame(tcga, registry, 3)
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)  # the first sample twice: refused
    sample = str(frame.iloc[0, 0])
    content = frame.to_csv(index=False).encode()
    outcome = runs.save_upload(portal, user_of(portal, "researcher").id, "twice.csv", content, MODEL,
                               data_use=DATA_USE)
    assert outcome.upload.status == "invalid" and sample in str(outcome.report["issues"])
    report = erasure.erase_sample(portal, sample)
    assert report.reports == [outcome.upload.id] and report.uploads == {}
    validation = _record(portal, Upload, outcome.upload.id).validation
    assert sample not in str(validation) and validation["issues_erased"] >= 1
    assert [e.target for e in _entries(portal)] == [outcome.upload.id]


def test_a_user_deletes_their_own_upload_with_its_runs_and_an_admin_any(portal, two_runs, tcga, registry):
    big, small, _sample = two_runs
    researcher, admin = user_of(portal, "researcher"), user_of(portal, "admin")
    other = create_user(portal.db, "second.researcher@example.org", "Second Researcher", "researcher",
                        "another made-up test password")
    with pytest.raises(runs.RunError) as refused:
        erasure.delete_upload(portal, big.upload_id, other.id, "researcher")
    assert refused.value.status == 403 and portal.storage.exists(f"uploads/{big.upload_id}/input.parquet")
    second = runs.queue_run(portal, big.upload_id, researcher.id, "researcher")  # a second run of it, queued
    with pytest.raises(runs.RunError) as going:
        erasure.delete_upload(portal, big.upload_id, researcher.id, "researcher")
    assert going.value.status == 409
    runs.cancel_run(portal, second.id, researcher.id, "researcher")
    deleted = erasure.delete_upload(portal, big.upload_id, researcher.id, "researcher")
    assert sorted(deleted.runs) == sorted([big.id, second.id]) and deleted.files_removed == 3
    assert not any(name.startswith((f"uploads/{big.upload_id}", f"runs/{big.id}")) for name in portal.storage.names())
    assert _record(portal, Upload, big.upload_id) is None and _record(portal, PredictionRun, big.id) is None
    never_run = runs.save_upload(portal, researcher.id, "c.csv", cohort_csv(tcga, registry, n=2), MODEL,
                                 data_use=DATA_USE).upload
    assert erasure.delete_upload(portal, never_run.id, admin.id, "admin").files_removed == 1  # an admin: any
    assert [e.target for e in _entries(portal, "upload.delete")] == [big.upload_id, never_run.id]
    assert len(_entries(portal, "prediction.delete")) == 2
    assert portal.storage.exists(f"runs/{small.id}/results.parquet")  # another upload's run: untouched


@SQLITE_ONLY
@pytest.mark.parametrize("filename", ["../../etc/passwd", "a/b.csv", "/tmp/x.csv", "..\\..\\win.csv", "C:\\x.csv"])
def test_stored_names_are_random_ids_never_the_users_file_name(portal, tcga, registry, filename):
    """Whatever the file is called, it is stored as uploads/<random id>/input.parquet under the storage
    folder, nothing else is written anywhere, and the name is kept only in the database record."""
    root = portal.settings.var_dir
    before = {path for path in root.rglob("*") if path.is_file()}
    content = cohort_csv(tcga, registry, n=2)
    upload = runs.save_upload(portal, user_of(portal, "researcher").id, filename, content, MODEL,
                              data_use=DATA_USE).upload
    written = {path for path in root.rglob("*") if path.is_file()} - before
    stored = portal.settings.storage_dir / "uploads" / upload.id / "input.parquet"
    assert {p for p in written if not p.name.startswith(("portal.db", ".lock"))} == {stored}
    assert len(upload.id) == 32 and int(upload.id, 16) >= 0 and _record(portal, Upload, upload.id).filename == filename
    assert not (portal.settings.storage_dir / "uploads" / upload.id / "b.csv").exists()
    run = runs.queue_run(portal, upload.id, user_of(portal, "researcher").id, "researcher")
    assert runs.execute_run(portal, run.id) == RunStatus.DONE
    assert set(portal.storage.names()) == {f"uploads/{upload.id}/input.parquet", f"runs/{run.id}/results.parquet"}
    with pytest.raises(Exception, match="outside the storage folder"):
        portal.storage.get("../../etc/passwd")  # a path never reaches the file system from a name


def test_deleting_a_run_removes_its_figures_and_upload_and_checks_ownership(portal, two_runs):
    big, _small, _sample = two_runs
    clinician = user_of(portal, "clinician")  # the run is shared with them: read, not delete
    with pytest.raises(runs.RunError) as refused:
        lifecycle.delete_run(portal, big.id, clinician.id, "clinician")
    assert refused.value.status == 403
    deleted = lifecycle.delete_run(portal, big.id, user_of(portal, "researcher").id, "researcher")
    assert (deleted.upload_removed, deleted.files_removed) == (True, 3)  # results, figures, upload
    assert not any(big.id in name or big.upload_id in name for name in portal.storage.names())


def test_erased_values_never_rest_in_clear(portal, two_runs):
    big, _small, sample = two_runs
    erasure.erase_sample(portal, sample)
    for name in portal.storage.names():
        raw = (portal.storage.root / name).read_bytes()
        assert sample.encode() not in raw  # tokens only
        if name.endswith(".parquet"):
            assert sample not in _ids(pd.read_parquet(io.BytesIO(portal.storage.get(name))),
                                      "__id__" if name.startswith("uploads/") else "sample_id")


def test_a_run_queued_after_an_erasure_elsewhere_never_reads_the_erased_sample_from_a_cache(portal, two_runs):
    big, _small, sample = two_runs
    names = portal.registry.get(MODEL, 1).schema.names
    assert sample in runs.upload_matrix(portal, big, names)[1]  # read once: kept in this portal's caches
    erasure.erase_sample(Portal(settings=portal.settings, db=portal.db, registry=portal.registry), sample)
    again = runs.queue_run(portal, big.upload_id, big.user_id, "researcher")  # a new run of the erased upload
    assert sample not in runs.upload_matrix(portal, again, names)[1]
    assert runs.execute_run(portal, again.id) == RunStatus.DONE
    assert sample not in _ids(runs.results(portal, _record(portal, PredictionRun, again.id)))


def test_erasure_waits_for_a_notebook_run_that_reads_a_run_holding_the_sample(portal, two_runs):
    _big, small, sample = two_runs
    spec = notebook_catalog.get(portal.caches.notebook_catalog, "cohort_report")
    researcher = user_of(portal, "researcher")
    queued = notebook_runs.queue(portal, spec, {"model": MODEL}, researcher.id, "researcher", input_run=small.id)
    with pytest.raises(runs.RunError) as refused:  # its report would be computed from the sample
        erasure.erase_sample(portal, sample)
    assert refused.value.status == 409 and queued.id in str(refused.value) and _entries(portal) == []
    assert sample in _ids(runs.results(portal, small))  # nothing was changed
