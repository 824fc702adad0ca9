"""POST /api/v1/models/{name}/predict as multipart/form-data: one wide file or one file per feature block,
joined on the sample id. The files are real held-out GDSC cell lines of the session's tissue-of-origin model,
split into its blocks (mutation, copy number, microsatellite instability); the data-use reference is made up."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from engine import blocks
from portal.core.models import AuditEvent
from tests.helpers import auth

MODEL = "tissue-of-origin"
URL = f"/api/v1/models/{MODEL}/predict"
FORM = {"data_use.basis": "public", "data_use.reference": "GDSC release 8.4 (test fixture)"}


@pytest.fixture(scope="module")
def wide(gdsc, registry):
    version = registry.resolve(MODEL)
    ids = version.test_ids[:8]
    return gdsc.X.loc[ids, version.schema.names].reset_index()


@pytest.fixture(scope="module")
def block_files(wide, registry):
    parts = blocks.split_frame(wide, registry.resolve(MODEL).schema)
    return [(f"{blocks.block_slug(g)}.csv", frame.to_csv(index=False).encode()) for g, frame in parts.items()]


def _post(client, key, sent, **fields):
    data = {**FORM, **fields, "file": [(io.BytesIO(content), name) for name, content in sent]}
    return client.post(URL, data=data, headers=auth(key), content_type="multipart/form-data")


def _actions(app) -> list:
    with app.server.extensions["cancer_alpha"].db.session() as session:
        return [(e.action, e.details) for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("api.%")).order_by(AuditEvent.id))]


def test_block_files_predict_as_the_wide_samples_do_with_one_audit_entry(app, client, key_for, wide, block_files):
    key = key_for("researcher")
    joined = _post(client, key, block_files, explain="true", top_k="3")
    assert joined.status_code == 200, joined.get_data(as_text=True)
    body = joined.json
    features = {k: int(v) for k, v in wide.set_index(wide.columns[0]).iloc[0].items()}
    as_json = client.post(URL, json={"samples": [{"id": str(wide.iloc[0, 0]), "features": features}],
                                     "data_use": {"basis": "public", "reference": "GDSC (test fixture)"}},
                          headers=auth(key)).json
    first = body["predictions"][0]
    assert first["id"] == str(wide.iloc[0, 0]) and len(body["predictions"]) == len(wide)
    assert first["probabilities"] == pytest.approx(as_json["predictions"][0]["probabilities"], abs=1e-12)
    assert len(first["contributions"]) == 3
    report = body["validation"]
    assert report["ok"] and [b["file"] for b in report["blocks"]] == [name for name, _ in block_files]
    assert all(b["n_samples"] == len(wide) for b in report["blocks"])
    multipart = [d for a, d in _actions(app) if a == "api.predict" and d.get("files")]
    assert len(multipart) == 1 and multipart[0]["files"] == 3 and multipart[0]["samples"] == len(wide)
    assert multipart[0]["data_use"] == {"basis": "public", "reference": FORM["data_use.reference"]}
    one_file = _post(client, key, [("wide.csv", wide.to_csv(index=False).encode())])
    assert one_file.status_code == 200 and one_file.json["validation"].get("blocks") is None
    assert [p["class"] for p in one_file.json["predictions"]] == [p["class"] for p in body["predictions"]]


def test_a_sample_missing_a_block_is_a_422_naming_it(client, key_for, block_files, wide):
    name, content = block_files[1]
    short = content.decode().split("\n")
    dropped = short.pop(1).split(",")[0]  # the first sample's line of that block
    sent = [block_files[0], (name, "\n".join(short).encode()), block_files[2]]
    response = _post(client, key_for("researcher"), sent)
    assert response.status_code == 422
    (detail,) = response.json["error"]["details"]
    assert detail["sample"] == dropped and f"not in {name}" in detail["problem"]
    assert detail["problem"].endswith("could serve it without it: none.")


@pytest.mark.parametrize("fields, sent, words", [
    ({"data_use.basis": None}, None, "data_use: Field required"),
    ({"colour": "blue"}, None, "colour: Extra inputs are not permitted"),
    ({"top_k": "many"}, None, "top_k: Input should be a valid integer"),
    ({}, [], "file: send one wide file or one file per feature block"),
])
def test_a_bad_form_is_a_422_naming_the_field(client, key_for, block_files, fields, sent, words):
    form = {k: v for k, v in {**FORM, **fields}.items() if v is not None}
    if form.get("data_use.basis") is None:
        form.pop("data_use.reference", None)
    data = {**form, "file": [(io.BytesIO(c), n) for n, c in (block_files if sent is None else sent)]}
    response = client.post(URL, data=data, headers=auth(key_for("researcher")), content_type="multipart/form-data")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert any(words in d["problem"] for d in response.json["error"]["details"]), response.json


def test_files_need_the_predict_permission_and_a_key(client, key_for, block_files):
    assert _post(client, key_for("analyst"), block_files).status_code == 403
    assert client.post(URL, data={**FORM}, content_type="multipart/form-data").status_code == 401


def test_the_openapi_document_describes_the_files_form(client):
    operation = client.get("/api/v1/openapi.json").json["paths"][URL.replace(MODEL, "{name}")]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"]["type"] == "array" and "data_use.basis" in form["required"]
    assert "one file per feature block" in operation["summary"]
