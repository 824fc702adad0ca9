"""The FHIR R4 export of one sample (portal/reports/fhir.py): the bundle, round-tripped through fhir.resources'
R4B models, holds each field for real finished runs of the default models (tissue-of-origin on GDSC cell
lines, tcga-mirna-type on TCGA tumours); a sample below the abstain threshold gives a preliminary report; the
sample id is the subject only when its upload declared the ids pseudonyms (the declaration is stored, shown
on the run page, and survives migration 0009); a resource FHIR refuses is refused with a message naming the
field; the API route and the explain page's download answer each caller as the permission table says and
are audited. The samples are real held-out samples; the accounts are made up."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from alembic import command
from sqlalchemy import select, text

from portal.accounts import api_keys
from portal.core.db import Database, alembic_config
from portal.core.models import AuditEvent, Upload
from portal.core.states import RunStatus
from portal.predictions import runs, sharing
from portal.reports import fhir, sample_facts
from portal.retention import purge
from tests.helpers import DATA_USE, MODEL, auth, email_of, render_page, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TISSUE = "tissue-of-origin"


def _csv(dataset, registry, name: str, n: int) -> bytes:
    version = registry.resolve(name)
    frame = dataset.X.loc[version.test_ids[:n], version.schema.names].reset_index()
    frame = frame.rename(columns={frame.columns[0]: version.schema.id_column})
    return frame.to_csv(index=False).encode()


def _run(portal, dataset, registry, name: str, n: int, pseudonymous: bool = False, role: str = "researcher"):
    """A finished run of the role's user on n real held-out samples of model `name`."""
    owner = user_of(portal, role)
    upload = runs.save_upload(portal, owner.id, "cohort.csv", _csv(dataset, registry, name, n), name,
                              data_use=DATA_USE, pseudonymous_ids=pseudonymous).upload
    run = runs.queue_run(portal, upload.id, owner.id, role)
    assert runs.execute_run(portal, run.id) == RunStatus.DONE
    return runs.get_run(portal, run.id, owner.id, role)


def _entries(bundle_json: bytes) -> dict:
    """The bundle parsed back by the package, its resources by type (and the Observations in order)."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(bundle_json)
    assert bundle.type == "collection" and bundle.timestamp is not None
    by_url = {entry.fullUrl: entry.resource for entry in bundle.entry}
    (report,) = [r for r in by_url.values() if r.get_resource_type() == "DiagnosticReport"]
    (device,) = [r for r in by_url.values() if r.get_resource_type() == "Device"]
    (organization,) = [r for r in by_url.values() if r.get_resource_type() == "Organization"]
    observations = [by_url[ref.reference] for ref in report.result]
    assert len(bundle.entry) == 3 + len(observations)
    return {"bundle": bundle, "by_url": by_url, "report": report, "device": device, "organization": organization,
            "observations": observations}


def _check(bundle_json: bytes, row: dict, version, sample: str, pseudonymous: bool) -> dict:
    """Every field of the bundle against the run's stored result row of the sample."""
    parsed = _entries(bundle_json)
    report, device, observations = parsed["report"], parsed["device"], parsed["observations"]
    abstain = bool(row["abstain"])
    assert report.status == ("preliminary" if abstain else "final")
    assert [(c.system, c.code) for c in report.category[0].coding] == [(fhir.V2_0074, "GE")]
    assert [(c.system, c.code) for c in report.code.coding] == [("http://loinc.org", "51969-4")]
    assert version.ref in report.code.text
    assert f"Predicted class: {row['predicted_class']}" in report.conclusion and fhir.RESEARCH_ONLY in report.conclusion
    coded = fhir.CONCLUSION_CODES.get((version.name, row["predicted_class"]))
    if coded and not abstain:
        (concept,) = report.conclusionCode
        assert [(c.system, c.code, c.display) for c in concept.coding] == [(fhir.NCIT, *coded)]
    else:
        assert not report.conclusionCode  # text only: no code names the class, or the model abstained
    (performer,) = report.performer  # the portal: R4 allows no Device there
    assert parsed["by_url"][performer.reference] is parsed["organization"] and performer.display == fhir.PORTAL_NAME
    assert {(i.system, i.value) for i in device.identifier} == {
        (fhir.MODEL_SYSTEM, f"{version.name}:{version.version}"), (fhir.ARTIFACT_SYSTEM, version.sha256)}
    assert device.version[0].value == str(version.version) and device.status == "active"
    classes = [c[2:] for c in row if c.startswith("p_")]
    probabilities, flags = observations[:len(classes)], observations[len(classes):]
    for name, observation in zip(classes, probabilities):
        quantity = observation.valueQuantity
        assert (quantity.unit, quantity.system, quantity.code) == ("%", "http://unitsofmeasure.org", "%")
        assert float(quantity.value) == pytest.approx(100 * row[f"p_{name}"], abs=1e-3)
        assert name in observation.code.text and observation.status == report.status
        assert parsed["by_url"][observation.device.reference] is device
    abstained, outside = flags
    assert abstained.valueBoolean is abstain and "abstain" in abstained.code.text.lower()
    assert outside.valueBoolean is bool(row["out_of_distribution"]) and "distribution" in outside.code.text
    if pseudonymous:
        for resource in (report, *observations):
            assert (resource.subject.identifier.system, resource.subject.identifier.value) == (fhir.SAMPLE_SYSTEM,
                                                                                               sample)
    else:
        assert report.subject is None and all(o.subject is None for o in observations)
        assert "No subject is given" in report.text.div and sample not in bundle_json.decode()
    return parsed


def _rows(portal, run) -> dict:
    return {str(r["sample_id"]): r for r in runs.results(portal, run).to_dict("records")}


def _bundle(portal, run, sample: str, role: str = "researcher") -> bytes:
    facts = sample_facts.from_run(portal, run.id, sample, user_of(portal, role).id, role, "test")
    return fhir.export(facts).content


@SQLITE_ONLY
def test_the_bundle_of_a_tcga_run_holds_every_field(portal, tcga, registry):
    run = _run(portal, tcga, registry, MODEL, n=4)
    version = registry.resolve(MODEL)
    reports = [_check(_bundle(portal, run, sample), row, version, sample, pseudonymous=False)["report"]
               for sample, row in _rows(portal, run).items()]
    assert any(r.status == "final" and r.conclusionCode for r in reports)  # a final, coded report among them


@SQLITE_ONLY
def test_an_abstaining_tissue_sample_gives_a_preliminary_report(portal, gdsc, registry):
    run = _run(portal, gdsc, registry, TISSUE, n=12)
    version = registry.resolve(TISSUE)
    rows = _rows(portal, run)
    sample = next(s for s, r in rows.items() if r["abstain"])  # most held-out cell lines are below it
    parsed = _check(_bundle(portal, run, sample), rows[sample], version, sample, pseudonymous=False)
    assert parsed["report"].status == "preliminary" and "abstains" in parsed["report"].conclusion
    assert len(parsed["observations"]) == len(version.classes) + 2


@SQLITE_ONLY
def test_a_declared_pseudonym_travels_as_the_subject(app, portal, tcga, registry):
    run = _run(portal, tcga, registry, MODEL, n=2, pseudonymous=True)
    sample, row = next(iter(_rows(portal, run).items()))
    parsed = _check(_bundle(portal, run, sample), row, registry.resolve(MODEL), sample, pseudonymous=True)
    assert "declared a pseudonym" in parsed["report"].text.div
    page = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=run.id)
    assert "Sample ids: declared pseudonyms by the uploader" in page
    undeclared = _run(portal, tcga, registry, MODEL, n=2)
    assert "Sample ids: not declared pseudonyms" in render_page(app, portal, "researcher", "/runs/<run_id>",
                                                                run_id=undeclared.id)


def test_brca_subtype_bundles_code_the_pam50_subtypes_nci_names(brca_model, brca):
    """The session's breast cancer subtype model on real held-out TCGA patients: each bundle holds every field,
    a confident Luminal A, Luminal B, Basal-like or Normal-like call carries its NCIt code, HER2-enriched none."""
    version, coded = brca_model.version, set()
    for sample in version.test_ids[:40]:
        X = brca.X.loc[[sample], brca_model.schema.names].to_numpy(float)
        facts = sample_facts.from_input(brca_model, X, sample, 0, author="test")
        row = {"predicted_class": facts.predicted, "abstain": facts.abstain,
               "out_of_distribution": facts.out_of_distribution,
               **{f"p_{c}": p for c, p in zip(facts.classes, facts.probabilities)}}
        report = _check(fhir.export(facts).content, row, version, sample, pseudonymous=False)["report"]
        if report.conclusionCode:
            coded.add(facts.predicted)
    assert "HER2-enriched" not in coded and {"Luminal A", "Basal-like"} <= coded


@pytest.mark.parametrize("change, where, words", [
    (lambda b: b["entry"][0]["resource"].update(status="done"), "DiagnosticReport.status", "'done' is not one of"),
    (lambda b: b["entry"][3]["resource"].update(status="finished"), "Observation.status", "'finished' is not one"),
    (lambda b: b.update(type="bag"), "Bundle.type", "'bag' is not one of"),
    (lambda b: b["entry"][3]["resource"]["valueQuantity"].update(code="percent"), "Observation.valueQuantity",
     "UCUM '%'"),
    (lambda b: b["entry"][0]["resource"]["performer"][0].update(reference=b["entry"][2]["fullUrl"]),
     "DiagnosticReport.performer", "a Device is not one of Practitioner, PractitionerRole, Organization, CareTeam"),
    (lambda b: b["entry"][3]["resource"]["device"].update(reference="urn:uuid:0"), "Observation.device",
     "is no entry of the bundle"),
    (lambda b: b["entry"][0]["resource"].update(conclusionText="x"), "Bundle.entry.0.resource", "Extra inputs"),
    (lambda b: b["entry"][0]["resource"].pop("code"), "Bundle.entry.0.resource", "Field required"),
])
def test_a_bad_resource_is_refused_naming_its_field(registry, tcga, change, where, words):
    model = registry.load(f"{MODEL}@production")
    sample = model.version.test_ids[0]
    X = tcga.X.loc[[sample], model.schema.names].to_numpy(float)
    bundle = fhir.fhir_bundle(sample_facts.from_input(model, X, sample, 0, author="test"))
    change(bundle)
    with pytest.raises(fhir.FhirError) as refused:
        fhir.validated(bundle)
    assert refused.value.where.startswith(where) and words in str(refused.value), str(refused.value)


def _fhir_audits(portal) -> list:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "report.fhir")))


@SQLITE_ONLY
def test_the_api_answers_each_caller_and_audits_the_bundle_served(app, portal, tcga, registry):
    run = _run(portal, tcga, registry, MODEL, n=2)
    sample = next(iter(_rows(portal, run)))
    keys = {role: api_keys.create_key(portal.db, user_of(portal, role).id, "fhir test")[1]
            for role in ("researcher", "clinician", "analyst", "admin")}
    client = app.server.test_client()

    def get(role, run_id=run.id, sample_id=sample):
        return client.get(f"/api/v1/runs/{run_id}/samples/{sample_id}/fhir", headers=auth(keys[role]))

    for role in ("researcher", "admin"):  # the owner, and an admin
        answer = get(role)
        assert answer.status_code == 200 and answer.mimetype == "application/fhir+json"
        _check(answer.data, _rows(portal, run)[sample], registry.resolve(MODEL), sample, pseudonymous=False)
    entries = _fhir_audits(portal)
    assert [e.target for e in entries] == [f"{run.id}/{sample}"] * 2
    assert entries[-1].details["sha256"] == hashlib.sha256(answer.data).hexdigest()
    assert entries[-1].details["model"] == f"{MODEL}:1" and sample not in json.dumps(entries[-1].details)
    assert get("analyst").status_code == 403  # a role without export_reports
    sharing.share_with_users(portal, run.id, [email_of("clinician")], user_of(portal, "researcher").id, "researcher")
    assert get("clinician").status_code == 200  # a recipient of a share reads the run
    sharing.revoke(portal, run.id, sharing.active_shares(portal, run.id, user_of(portal, "researcher").id,
                                                         "researcher")[0].id, user_of(portal, "researcher").id,
                   "researcher")
    assert [e.target for e in _fhir_audits(portal)] == [f"{run.id}/{sample}"] * 3
    for role, run_id, sample_id in (("clinician", run.id, sample), ("researcher", "0" * 32, sample),
                                    ("researcher", run.id, "no-such-sample"), ("researcher", run.id, "x" * 300)):
        refused = get(role, run_id, sample_id)
        assert refused.status_code == 404 and refused.json["error"]["message"], (role, run_id, sample_id)
    assert len(_fhir_audits(portal)) == 3  # refusals serve nothing
    purge.purge(portal, days=0)
    gone = get("researcher")
    assert gone.status_code == 410 and "purged" in gone.json["error"]["message"]
    document = client.get("/api/v1/openapi.json").json
    assert "application/fhir+json" in json.dumps(document["paths"]["/api/v1/runs/{run_id}/samples/{sample_id}/fhir"])


def _export_callback(client, run_id: str, sample: str):
    return client.post("/_dash-update-component", json={
        "output": "explain-fhir-download.data", "outputs": {"id": "explain-fhir-download", "property": "data"},
        "inputs": [{"id": "explain-fhir", "property": "n_clicks", "value": 1}],
        "state": [{"id": "explain-ids", "property": "data", "value": {"run": run_id, "sample": sample}}],
        "changedPropIds": ["explain-fhir.n_clicks"]})


@SQLITE_ONLY
def test_the_explain_page_export_checks_the_caller_on_the_server(app, tcga, registry, client_for):
    portal = app.server.extensions["cancer_alpha"]
    clients = {role: client_for(role) for role in ("researcher", "clinician", "analyst")}
    with app.server.test_request_context():
        run = _run(portal, tcga, registry, MODEL, n=2)
        sample = next(iter(_rows(portal, run)))
    answer = _export_callback(clients["researcher"], run.id, sample)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    download = answer.json["response"]["explain-fhir-download"]["data"]
    assert download["type"] == "application/fhir+json" and download["filename"].endswith(".json")
    content = download["content"].encode() if not download.get("base64") else base64.b64decode(download["content"])
    with app.server.test_request_context():
        _check(content, _rows(portal, run)[sample], registry.resolve(MODEL), sample, pseudonymous=False)
    assert _fhir_audits(portal)[-1].details["sha256"] == hashlib.sha256(content).hexdigest()
    assert _export_callback(clients["analyst"], run.id, sample).status_code == 403  # no export_reports
    assert _export_callback(clients["clinician"], run.id, sample).status_code == 403  # not shared with them
    assert _export_callback(clients["researcher"], run.id, {"forged": 1}).status_code == 400
    assert len(_fhir_audits(portal)) == 1


def _post_upload(app, client, pseudonymous, tcga, registry):
    key = next(k for k, s in app.callback_map.items() if s["inputs"] and s["inputs"][0]["id"] == "predict-upload")
    spec = app.callback_map[key]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
               for o in key.strip(".").split("...") if o]
    contents = "data:text/csv;base64," + base64.b64encode(_csv(tcga, registry, MODEL, 3)).decode()
    values = {"predict-upload.contents": contents, "predict-upload.filename": "cohort.csv",
              "predict-model.value": MODEL, "predict-version.value": 1, "predict-data-use.value": DATA_USE["basis"],
              "predict-data-use-reference.value": DATA_USE["reference"], "predict-pseudonymous.value": pseudonymous}
    item = lambda i: {**i, "value": values[f"{i['id']}.{i['property']}"]}  # noqa: E731
    answer = client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs, "inputs": [item(i) for i in spec["inputs"]],
        "state": [item(s) for s in spec["state"]], "changedPropIds": ["predict-upload.contents"]})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json["response"]["predict-upload-id"]["data"]


@SQLITE_ONLY
def test_the_predict_page_stores_the_declaration(app, client_for, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    client = client_for("researcher")
    declared = {value: _post_upload(app, client, value, tcga, registry) for value in (True, False, None, "yes")}
    with portal.db.session() as session:
        stored = {value: session.get(Upload, upload_id).pseudonymous_ids for value, upload_id in declared.items()}
    assert stored == {True: True, False: False, None: False, "yes": False}  # only a ticked box declares


def test_uploads_stored_before_migration_0009_are_not_declared_pseudonymous(database_url):
    db = Database(database_url)
    config = alembic_config(database_url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
        connection.execute(text(
            "insert into users (id, email, name, role, password_hash, active, created_at, password_changed_at,"
            " session_generation) values (1, 'old@example.org', 'Old', 'researcher', 'x', true,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"))
        connection.execute(text(
            "insert into uploads (id, user_id, filename, sha256, size_bytes, model_name, model_version, status,"
            " validation, created_at, data_use_basis) values ('old', 1, 'old.csv', 'ab', 1, 'm', 1, 'valid', '{}',"
            " '2026-01-01 00:00:00', 'public')"))
        command.upgrade(config, "0009")
        assert connection.execute(text("select pseudonymous_ids from uploads")).scalar() in (False, 0)
        command.downgrade(config, "0008")
        assert "pseudonymous_ids" not in connection.execute(text("select * from uploads")).keys()
    db.dispose()
