"""The data-use basis (consent) of every upload (issue 12): the check of a basis and its reference, an
upload refused without one (nothing stored, audited), the basis kept with the upload and in its audit
entry, shown on the run's page, asked by the Predict page's callbacks on the server, inherited by a
notebook's input, and `unrecorded` for the uploads stored before migration 0007. Real held-out TCGA
samples; the references are made up."""
from __future__ import annotations

import base64

import pytest
from alembic import command
from sqlalchemy import func, select, text

from portal.core.db import Database, alembic_config
from portal.core.models import AuditEvent, NotebookRun, Upload
from portal.core.states import DataUseBasis
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.notebooks.catalog import ParameterError
from portal.predictions import consent, runs
from tests.helpers import DATA_USE, MODEL, cohort_csv, finished_run, render_page
from tests.helpers import user_of as user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PROTOCOL = {"basis": "deidentified-protocol", "reference": "  IRB-2024-0153 (made up)  "}


# -- the check --------------------------------------------------------------------------------------

def test_every_choosable_basis_says_what_it_is_and_whether_it_needs_a_reference():
    assert [b.value for b in DataUseBasis.choices()] == ["deidentified-protocol", "consented", "public", "synthetic"]
    assert DataUseBasis.UNRECORDED.words == "not recorded (uploaded before consent was recorded)"
    assert [b.reference_required for b in DataUseBasis.choices()] == [True, True, True, False]
    assert "IRB" in DataUseBasis.DEIDENTIFIED_PROTOCOL.reference_label


def test_a_reference_is_stripped_and_optional_only_where_the_basis_says():
    assert consent.check(**PROTOCOL) == consent.DataUse(DataUseBasis.DEIDENTIFIED_PROTOCOL, "IRB-2024-0153 (made up)")
    assert consent.check("synthetic", "   ") == consent.DataUse(DataUseBasis.SYNTHETIC, None)
    assert consent.check("public", "x" * consent.MAX_REFERENCE).reference == "x" * 200
    assert consent.check("consented", "Biobank consent BB-77 (v3)").words == \
        "Patient consent for research on file: Biobank consent BB-77 (v3)"


@pytest.mark.parametrize("basis, reference, field, words", [
    (None, "IRB-1", "basis", "choose the data-use basis"),
    ("", None, "basis", "choose the data-use basis"),
    ("irb", None, "basis", "'irb' is not a data-use basis"),
    ("unrecorded", None, "basis", "is not a data-use basis"),  # marks old uploads; never chosen
    (["public"], None, "basis", "is not a data-use basis"),
    ("deidentified-protocol", None, "reference", "required for 'De-identified data"),
    ("consented", " \t ", "reference", "required for 'Patient consent"),
    ("public", "", "reference", "required for 'Public"),
    ("public", "x" * 201, "reference", "to 200 characters (it has 201)"),
    ("public", "TCGA\x00", "reference", "control character (U+0000 at position 5)"),
    ("public", "TCGA\nrelease 38", "reference", "control character (U+000A"),
    ("public", "TCGA \u202erelease", "reference", "control character (U+202E"),  # a bidirectional override
    ("consented", "consent of jane.doe@hospital.example", "reference", "looks like personal data (an e-mail"),
    ("public", 38, "reference", "must be text"),
])
def test_a_refused_basis_or_reference_names_its_field(basis, reference, field, words):
    with pytest.raises(consent.ConsentError) as refused:
        consent.check(basis, reference)
    assert refused.value.field == field and words in refused.value.message


def test_what_a_caller_hands_on_is_checked_again():
    assert consent.parse(DATA_USE) == consent.DataUse(DataUseBasis.PUBLIC, DATA_USE["reference"])
    assert consent.parse(consent.DataUse(DataUseBasis.SYNTHETIC)) == consent.DataUse(DataUseBasis.SYNTHETIC)
    for handed in (None, {}, consent.UNRECORDED, "public"):
        with pytest.raises(consent.ConsentError):
            consent.parse(handed)
    assert consent.recorded("no-such-basis", None) == consent.UNRECORDED


# -- uploads ----------------------------------------------------------------------------------------

def _audit(portal, action: str) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _uploads(portal) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(Upload))


def test_an_upload_records_its_basis_with_the_record_and_the_audit_entry(portal, tcga, registry):
    researcher = user(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=4), MODEL,
                              data_use=PROTOCOL).upload
    with portal.db.session() as session:
        stored = session.get(Upload, upload.id)
    assert (stored.data_use_basis, stored.data_use_reference) == ("deidentified-protocol", "IRB-2024-0153 (made up)")
    (event,) = _audit(portal, "upload")
    assert event.target == upload.id
    assert event.details["data_use"] == {"basis": "deidentified-protocol", "reference": "IRB-2024-0153 (made up)"}


@pytest.mark.parametrize("data_use, field", [(None, "basis"), ({"basis": "consented"}, "reference"),
                                             ({"basis": "public", "reference": "me@example.org"}, "reference")])
def test_an_upload_without_a_valid_basis_stores_nothing(portal, tcga, registry, data_use, field):
    researcher = user(portal, "researcher")
    with pytest.raises(runs.RunError) as refused:
        runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=4), MODEL,
                         data_use=data_use)
    assert refused.value.status == 400 and str(refused.value).startswith("Not stored: ")
    assert "data-use" in str(refused.value)
    assert _uploads(portal) == 0 and not (portal.settings.storage_dir / "uploads").exists()
    (event,) = _audit(portal, "upload.refused")
    assert event.outcome == "failed" and event.details["field"] == f"data_use.{field}"
    assert "me@example.org" not in str(event.details)  # what was refused is not copied into the trail
    assert _audit(portal, "upload") == []


def test_an_upload_from_before_consent_was_recorded_is_not_predicted_again(portal, tcga, registry):
    researcher = user(portal, "researcher")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                              data_use=DATA_USE).upload
    with portal.db.session() as session:  # as migration 0007 leaves the uploads stored before it
        session.get(Upload, upload.id).data_use_basis = DataUseBasis.UNRECORDED
        session.get(Upload, upload.id).data_use_reference = None
    with pytest.raises(runs.RunError) as refused:
        runs.queue_run(portal, upload.id, researcher.id, "researcher")
    assert refused.value.status == 409 and "no data-use basis recorded" in str(refused.value)
    assert consent.of_upload(portal, upload.id) == consent.UNRECORDED


def test_the_run_page_shows_the_basis(app, portal, tcga, registry):
    run = finished_run(portal, tcga, registry, n=3)
    page = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=run.id)
    assert f"Data-use basis: {DataUseBasis.PUBLIC.words}: {DATA_USE['reference']}." in page
    with portal.db.session() as session:
        session.get(Upload, run.upload_id).data_use_basis = "unrecorded"
    page = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=run.id)
    assert "Data-use basis: not recorded (uploaded before consent was recorded)." in page


# -- the migration ----------------------------------------------------------------------------------

def test_uploads_stored_before_migration_0007_read_unrecorded(database_url):
    db = Database(database_url)
    config = alembic_config(database_url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        connection.execute(text(
            "insert into users (id, email, name, role, password_hash, active, created_at, password_changed_at,"
            " session_generation) values (1, 'old@example.org', 'Old', 'researcher', 'x', true,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"))
        connection.execute(text(
            "insert into uploads (id, user_id, filename, sha256, size_bytes, model_name, model_version, status,"
            " validation, created_at) values ('old', 1, 'old.csv', 'ab', 1, 'm', 1, 'valid', '{}',"
            " '2026-01-01 00:00:00')"))
        command.upgrade(config, "0007")
        row = connection.execute(text("select data_use_basis, data_use_reference from uploads")).one()
        assert tuple(row) == ("unrecorded", None)
        assert consent.recorded(*row).words == "not recorded (uploaded before consent was recorded)"
        command.downgrade(config, "0006")
        assert "data_use_basis" not in connection.execute(text("select * from uploads")).keys()
    db.dispose()


# -- the Predict page's callbacks, as a browser posts them --------------------------------------------

def _post_upload(app, client, contents: str | None, basis, reference):
    key, spec = next((k, s) for k, s in app.callback_map.items()
                     if s["inputs"] and s["inputs"][0]["id"] == "predict-upload" and s["inputs"][0]["property"] == "contents")
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
               for o in key.strip(".").split("...") if o]
    values = {"predict-upload.contents": contents, "predict-upload.filename": "cohort.csv",
              "predict-model.value": MODEL, "predict-version.value": 1, "predict-data-use.value": basis,
              "predict-data-use-reference.value": reference, "predict-pseudonymous.value": None}
    item = lambda i: {**i, "value": values[f"{i['id']}.{i['property']}"]}  # noqa: E731
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs, "inputs": [item(i) for i in spec["inputs"]],
        "state": [item(s) for s in spec["state"]], "changedPropIds": ["predict-upload.contents"]})


def _contents(tcga, registry) -> str:
    return "data:text/csv;base64," + base64.b64encode(cohort_csv(tcga, registry, n=5)).decode()


@SQLITE_ONLY
def test_the_predict_page_refuses_an_upload_without_a_basis_on_the_server(app, client_for, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    client = client_for("researcher")
    for basis, reference, words in ((None, None, "choose the data-use basis"),
                                    ("deidentified-protocol", "", "the data-use reference is required"),
                                    ("made-up", "x", "is not a data-use basis"),
                                    ("consented", "jane@clinic.example", "looks like personal data")):
        response = _post_upload(app, client, _contents(tcga, registry), basis, reference)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.json["response"]
        assert words in str(answer["predict-report"]["children"]) and "Not stored" in str(answer)
        assert answer["predict-upload-id"]["data"] is None
        assert answer["predict-upload-box"]["children"]["props"]["id"] == "predict-upload"  # drawn afresh
    assert _uploads(portal) == 0
    assert len(_audit(portal, "upload.refused")) == 4


@SQLITE_ONLY
def test_the_predict_page_records_the_chosen_basis(app, client_for, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    response = _post_upload(app, client_for("researcher"), _contents(tcga, registry), **PROTOCOL)
    answer = response.json["response"]
    assert "Data-use basis recorded with this upload: De-identified data under an approved research protocol: " \
           "IRB-2024-0153 (made up)." in str(answer["predict-report"])
    upload_id = answer["predict-upload-id"]["data"]
    assert consent.of_upload(portal, upload_id).reference == "IRB-2024-0153 (made up)"
    assert [e.details["data_use"]["basis"] for e in _audit(portal, "upload")] == ["deidentified-protocol"]


@SQLITE_ONLY
def test_the_reference_label_follows_the_basis(app, client_for):
    key = next(k for k, s in app.callback_map.items() if s["inputs"] and s["inputs"][0]["id"] == "predict-data-use")
    client = client_for("researcher")

    def label(basis):
        response = client.post("/_dash-update-component", json={
            "output": key, "outputs": [{"id": "predict-data-use-reference-label", "property": "children"},
                                       {"id": "predict-data-use-reference", "property": "placeholder"}],
            "inputs": [{"id": "predict-data-use", "property": "value", "value": basis}],
            "changedPropIds": ["predict-data-use.value"]})
        return response.json["response"]["predict-data-use-reference-label"]["children"]
    assert label("deidentified-protocol") == "IRB or ethics committee approval number (required)"
    assert label("synthetic") == "Note (optional)"
    assert label({"forged": 1}) == "Reference"


# -- notebooks --------------------------------------------------------------------------------------

def _spec(portal, name: str):
    return notebook_catalog.get(portal.caches.notebook_catalog, name)


def test_a_notebook_records_the_basis_of_the_samples_it_reads(portal, tcga, registry):
    researcher = user(portal, "researcher")
    prediction = finished_run(portal, tcga, registry, n=3)
    spec = _spec(portal, "cohort_report")
    from_run = notebook_runs.queue(portal, spec, {"model": MODEL}, researcher.id, "researcher",
                                   input_run=prediction.id)
    assert from_run.parameters["data_use"] == DATA_USE
    split = notebook_runs.queue(portal, spec, {}, researcher.id, "researcher", input_split=MODEL)
    version = registry.resolve(MODEL)
    assert split.parameters["data_use"] == {
        "basis": "public", "reference": f"{version.dataset_title} ({version.dataset_id}), held-out split of "
                                        f"{version.ref}"[:consent.MAX_REFERENCE]}
    with portal.db.session() as session:
        queued = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "notebook.queue")
                                      .order_by(AuditEvent.id)))
        record = session.get(NotebookRun, from_run.id)
    assert [e.details["data_use"]["basis"] for e in queued] == ["public", "public"]
    shown = notebook_runs.shown_parameters(record)["data_use"]
    assert shown == f"{DataUseBasis.PUBLIC.words}: {DATA_USE['reference']}"
    training = notebook_runs.queue(portal, _spec(portal, "model_evaluation"), {"model": MODEL}, researcher.id,
                                   "researcher")
    assert "data_use" not in training.parameters  # it reads no file of samples


def test_a_file_of_samples_on_the_command_line_needs_its_basis(portal, tmp_path, tcga, registry):
    path = tmp_path / "cohort.csv"
    path.write_bytes(cohort_csv(tcga, registry, n=3))
    spec = _spec(portal, "cohort_report")
    given = {"model": MODEL, "input_file": str(path)}
    with pytest.raises(ParameterError) as refused:
        notebook_runs.queue(portal, spec, given, None, "admin", files_allowed=True)
    assert refused.value.problems[0].startswith("data_use.basis: choose the data-use basis")
    with pytest.raises(ParameterError, match="data_use.reference: the data-use reference is required"):
        notebook_runs.queue(portal, spec, given, None, "admin", files_allowed=True, data_use={"basis": "consented"})
    run = notebook_runs.queue(portal, spec, given, None, "admin", files_allowed=True,
                              data_use={"basis": "consented", "reference": "BB-2024-12 (made up)"})
    assert run.parameters["data_use"] == {"basis": "consented", "reference": "BB-2024-12 (made up)"}
