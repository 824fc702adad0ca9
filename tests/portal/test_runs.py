"""Uploads and prediction runs through the portal's run service, on SQLite and PostgreSQL, with real
held-out TCGA samples. Runs execute in-process here; the browser tests run them as background jobs."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import select

from portal.core.models import AuditEvent
from portal.core.states import RunStatus
from portal.core.storage import StorageError
from portal.predictions import exports, runs
from tests.helpers import DATA_USE, MODEL, cohort_csv
from tests.helpers import user_of as user


@pytest.fixture
def portal(app):
    with app.server.app_context():
        yield app.server.extensions["cancer_alpha"]


def test_a_valid_upload_is_stored_encrypted_and_audited(portal, tcga, registry):
    researcher = user(portal, "researcher")
    content = cohort_csv(tcga, registry)
    outcome = runs.save_upload(portal, researcher.id, "cohort.csv", content, MODEL, data_use=DATA_USE)
    assert outcome.upload.status == "valid" and outcome.upload.n_samples == 25
    stored = (portal.settings.storage_dir / f"uploads/{outcome.upload.id}/input.parquet").read_bytes()
    first_id = tcga.X.index[0]
    # ciphertext, not parquet: a parquet file starts and ends with PAR1 (four letters a base64 token may
    # hold anywhere by chance, so only the ends are checked), and the ids appear nowhere in clear
    assert stored[:4] != b"PAR1" and stored[-4:] != b"PAR1" and first_id.encode() not in stored
    assert portal.storage.get(f"uploads/{outcome.upload.id}/input.parquet")[:4] == b"PAR1"
    with portal.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "upload")).one()
    assert event.details["samples"] == 25 and event.target == outcome.upload.id


def test_an_invalid_upload_is_recorded_but_not_stored(portal, tcga, registry):
    frame = pd.read_csv(io.BytesIO(cohort_csv(tcga, registry)), dtype=str)
    frame = frame.drop(columns=["hsa.let.7a.1"])
    outcome = runs.save_upload(portal, user(portal, "clinician").id, "broken.csv",
                               frame.to_csv(index=False).encode(), MODEL, data_use=DATA_USE)
    assert outcome.upload.status == "invalid"
    assert any(i["code"] == "missing-feature" for i in outcome.report["issues"])
    assert not (portal.settings.storage_dir / f"uploads/{outcome.upload.id}").exists()
    with portal.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "upload.invalid")).one()
    assert event.outcome == "failed" and "hsa" not in str(event.details)
    with pytest.raises(runs.RunError, match="did not pass validation"):
        runs.queue_run(portal, outcome.upload.id, user(portal, "clinician").id, "clinician")


def test_a_run_predicts_every_sample_with_progress_and_label_metrics(portal, tcga, registry):
    researcher = user(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=25), MODEL,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    seen = []
    assert runs.execute_run(portal, run.id, lambda done, total: seen.append((done, total))) == RunStatus.DONE
    assert seen == [(25, 25)]
    run = runs.get_run(portal, run.id, researcher.id, "researcher")
    frame = runs.results(portal, run)
    assert len(frame) == 25 and frame[runs.LABEL_COLUMN].notna().all()
    assert run.summary["labels"]["n"] == 25 and run.summary["labels"]["accuracy"] > 0.9
    assert runs.execute_run(portal, run.id) == RunStatus.DONE  # a finished run never starts again


def test_chunks_report_progress_in_order(portal, tcga, registry, monkeypatch):
    monkeypatch.setattr(runs, "CHUNK", 10)  # small chunks for a small real cohort
    researcher = user(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "c.csv", cohort_csv(tcga, registry, n=25), MODEL,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    seen = []
    runs.execute_run(portal, run.id, lambda done, total: seen.append(done))
    assert seen == [10, 20, 25]


def test_runs_belong_to_their_owner(portal, tcga, registry):
    researcher, clinician, admin = (user(portal, r) for r in ("researcher", "clinician", "admin"))
    upload = runs.save_upload(portal, researcher.id, "c.csv", cohort_csv(tcga, registry, n=5), MODEL,
                              data_use=DATA_USE).upload
    with pytest.raises(runs.RunError) as denied:
        runs.queue_run(portal, upload.id, clinician.id, "clinician")
    assert denied.value.status == 403
    run = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    assert runs.get_run(portal, run.id, admin.id, "admin").id == run.id
    assert [r.id for r in runs.list_runs(portal, clinician.id, "clinician")] == []
    assert run.id in [r.id for r in runs.list_runs(portal, admin.id, "admin")]
    with pytest.raises(runs.RunError) as missing:
        runs.get_run(portal, "nope", admin.id, "admin")
    assert missing.value.status == 404


def test_a_cancelled_run_does_not_start(portal, tcga, registry):
    researcher = user(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "c.csv", cohort_csv(tcga, registry, n=5), MODEL,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    runs.cancel_run(portal, run.id, researcher.id, "researcher")
    assert runs.execute_run(portal, run.id) == RunStatus.CANCELLED
    with pytest.raises(runs.RunError, match="cancelled"):
        runs.results(portal, runs.get_run(portal, run.id, researcher.id, "researcher"))


def test_stored_files_resist_tampering_and_other_keys(portal, tmp_path):
    portal.storage.put("x/y.bin", b"genomic values")
    assert portal.storage.get("x/y.bin") == b"genomic values"
    path = portal.settings.storage_dir / "x/y.bin"
    path.write_bytes(path.read_bytes()[:-3] + b"AAA")
    with pytest.raises(StorageError, match="cannot be decrypted"):
        portal.storage.get("x/y.bin")
    with pytest.raises(StorageError, match="outside the storage folder"):
        portal.storage.put("../escape", b"")


def test_csv_downloads_neutralise_formulas():
    frame = pd.DataFrame({"sample_id": ["=HYPERLINK(1)", "+1", "-cmd", "@SUM", "ok"],
                          "confidence": [0.5, -0.2, 0.1, 0.2, 0.3]})
    text = exports.results_csv(frame)
    assert "'=HYPERLINK" in text and "'+1" in text and "'-cmd" in text and "'@SUM" in text
    assert ",-0.2" in text  # numbers are numbers, not formulas
    assert pd.read_parquet(io.BytesIO(exports.results_parquet(frame))).equals(frame)


def _post(client, output, inputs, state):
    payload = {"output": output, "outputs": {"id": output.split(".")[0], "property": output.split(".")[1]},
               "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
               "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
               "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}
    return client.post("/_dash-update-component", json=payload)


def test_template_and_example_downloads(client_for, registry, tcga, db):
    client = client_for("clinician")
    state = [("predict-model", "value", MODEL), ("predict-version", "value", 1)]
    template = _post(client, "predict-template-download.data", [("predict-template-button", "n_clicks", 1)], state)
    content = template.json["response"]["predict-template-download"]["data"]["content"]
    assert content.startswith("sample_id,hsa.let.7a.1,") and content.count("\n") == 1
    example = _post(client, "predict-example-download.data", [("predict-example-button", "n_clicks", 1)], state)
    data = example.json["response"]["predict-example-download"]["data"]
    assert data["filename"] == f"{MODEL}-v1-real-held-out-samples.csv"
    frame = pd.read_csv(io.StringIO(data["content"]))
    held_out = registry.resolve(MODEL).metadata["split"]["test_ids"]
    assert frame["sample_id"].tolist() == held_out
    assert frame[runs.LABEL_COLUMN].tolist() == tcga.y.loc[held_out].tolist()
    assert _post(client_for("analyst"), "predict-example-download.data",
                 [("predict-example-button", "n_clicks", 1)], state).status_code == 403
