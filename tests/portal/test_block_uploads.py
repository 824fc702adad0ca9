"""Uploads in one file per feature block on the portal (runs.save_files and the Predict page's callbacks):
the stored upload is the joined table, recorded and audited once; the report shows the blocks; the
templates and examples come per block. Real held-out GDSC cell lines of the session's tissue-of-origin model
(blocks: mutation, copy number, microsatellite instability); on SQLite only (save_upload's storage is tested
on both databases in test_runs.py)."""
from __future__ import annotations

import base64
import io
import zipfile

import pandas as pd
import pytest
from sqlalchemy import select

from engine import blocks
from portal.core.models import AuditEvent
from portal.predictions import runs
from tests.helpers import DATA_USE
from tests.helpers import user_of as user

MODEL = "tissue-of-origin"


@pytest.fixture
def app(make_portal):
    return make_portal()


@pytest.fixture
def portal(app):
    with app.server.test_request_context():
        yield app.server.extensions["cancer_alpha"]


@pytest.fixture(scope="module")
def wide(gdsc, registry):
    version = registry.resolve(MODEL)
    ids = version.test_ids[:12]
    frame = gdsc.X.loc[ids, version.schema.names].reset_index()
    frame.insert(1, runs.LABEL_COLUMN, gdsc.y.loc[ids].to_numpy())
    return frame


@pytest.fixture(scope="module")
def block_files(wide, registry):
    parts = blocks.split_frame(wide, registry.resolve(MODEL).schema, runs.LABEL_COLUMN)
    return [(f"{blocks.block_slug(g)}.csv", frame.to_csv(index=False).encode()) for g, frame in parts.items()]


def _audit(portal, action: str) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_block_files_are_stored_as_the_joined_table(portal, wide, block_files):
    researcher = user(portal, "researcher")
    outcome = runs.save_files(portal, researcher.id, block_files, MODEL, data_use=DATA_USE)
    one = runs.save_upload(portal, researcher.id, "wide.csv", wide.to_csv(index=False).encode(), MODEL,
                           data_use=DATA_USE)
    assert outcome.upload.status == "valid" and outcome.upload.n_samples == len(wide)
    assert outcome.upload.filename == ", ".join(name for name, _ in block_files)
    assert outcome.upload.size_bytes == sum(len(c) for _, c in block_files)
    stored = portal.storage.get_frame(f"uploads/{outcome.upload.id}/input.parquet")
    assert stored.equals(portal.storage.get_frame(f"uploads/{one.upload.id}/input.parquet"))
    assert [b["file"] for b in outcome.report["blocks"]] == [name for name, _ in block_files]
    entry = next(e for e in _audit(portal, "upload") if e.target == outcome.upload.id)
    assert entry.details["files"] == 3 and entry.details["data_use"]["basis"] == DATA_USE["basis"]
    run = runs.queue_run(portal, outcome.upload.id, researcher.id, "researcher")
    assert runs.execute_run(portal, run.id) == "done"


def test_a_sample_missing_a_block_is_recorded_invalid_and_not_stored(portal, block_files):
    name, content = block_files[2]
    frame = pd.read_csv(io.BytesIO(content), dtype=str)
    sent = block_files[:2] + [(name, frame.iloc[1:].to_csv(index=False).encode())]
    outcome = runs.save_files(portal, user(portal, "researcher").id, sent, MODEL, data_use=DATA_USE)
    assert outcome.upload.status == "invalid"
    assert [i["code"] for i in outcome.report["issues"] if i["severity"] == "error"] == ["missing-block"]
    assert outcome.report["blocks"][2]["missing_samples"] == [frame.iloc[0, 0]]
    assert not (portal.settings.storage_dir / f"uploads/{outcome.upload.id}").exists()
    assert len(_audit(portal, "upload.invalid")) == 1


def _post(app, client, output: str, values: dict, changed: str):
    key, spec = next((k, s) for k, s in app.callback_map.items() if k.strip(".").startswith(output))
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
               for o in key.strip(".").split("...") if o]
    item = lambda i: {**i, "value": values.get(f"{i['id']}.{i['property']}")}  # noqa: E731
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": [item(i) for i in spec["inputs"]],
        "state": [item(s) for s in spec["state"]], "changedPropIds": [changed]})


CHOSEN = {"predict-model.value": MODEL, "predict-version.value": 1, "predict-data-use.value": DATA_USE["basis"],
          "predict-data-use-reference.value": DATA_USE["reference"]}


def test_the_predict_page_takes_several_files_and_shows_the_blocks(app, client_for, block_files):
    contents = ["data:text/csv;base64," + base64.b64encode(c).decode() for _, c in block_files]
    response = _post(app, client_for("researcher"), "predict-report.children",
                     CHOSEN | {"predict-upload.contents": contents,
                               "predict-upload.filename": [n for n, _ in block_files]}, "predict-upload.contents")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.json["response"]
    assert answer["predict-upload-id"]["data"]
    shown = str(answer["predict-report"]["children"])
    assert "report-blocks" in shown and "copy-number.csv" in shown and "12 samples passed validation" in shown


def test_templates_and_examples_per_block(app, client_for, registry, gdsc):
    version = registry.resolve(MODEL)
    client = client_for("clinician")
    shown = _post(app, client, "predict-block-files.style", CHOSEN, "predict-version.value")
    assert shown.json["response"]["predict-block-files"]["style"] == {}
    one_block = _post(app, client, "predict-block-files.style", CHOSEN | {"predict-model.value": "tcga-mirna-type"},
                      "predict-version.value")
    assert one_block.json["response"]["predict-block-files"]["style"] == {"display": "none"}
    for button, kind in (("predict-block-templates-button", "template"),
                         ("predict-block-example-button", "real-held-out-samples")):
        answer = _post(app, client, "predict-block-download.data", CHOSEN | {f"{button}.n_clicks": 1},
                       f"{button}.n_clicks")
        data = answer.json["response"]["predict-block-download"]["data"]
        assert data["filename"] == f"{MODEL}-v1-{kind}-per-block.zip"
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(data["content"])))
        frames = {name: pd.read_csv(archive.open(name), dtype=str) for name in archive.namelist()}
        assert sorted(frames) == sorted(f"{MODEL}-v1-{blocks.block_slug(g)}-{kind}.csv"
                                        for g in set(version.schema.groups))
        features = [c for f in frames.values() for c in f.columns if c in version.schema.names]
        assert sorted(features) == sorted(version.schema.names)
        if kind == "template":
            assert all(len(f) == 0 for f in frames.values())
        else:
            assert all(f[version.schema.id_column].tolist() == version.test_ids for f in frames.values())
    assert _post(app, client_for("analyst"), "predict-block-download.data",
                 CHOSEN | {"predict-block-example-button.n_clicks": 1},
                 "predict-block-example-button.n_clicks").status_code == 403
