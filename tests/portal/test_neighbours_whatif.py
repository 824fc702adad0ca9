"""The explain page's similar reference samples and its what-if panel, from the portal's functions and
through their callbacks as the browser posts them: permission and run ownership checked on the server,
forged ids and hostile values answered 4xx naming what is wrong (never a 500), the what-if audited with the
features it changed and never their values. Real held-out TCGA and GDSC samples on the session's models; the
accounts are the made-up test users; SQLite only (the database part is runs.get_run's)."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from engine.neighbours import reference_samples_for
from engine.projection import projection_for
from portal.core.models import AuditEvent
from portal.core.settings import Settings, SettingsError
from portal.predictions import explanations, runs, sharing
from portal.predictions.neighbours import sample_neighbours
from portal.predictions.whatif import MAX_CHANGES
from tests.helpers import email_of, finished_run, render_page, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TISSUE = "tissue-of-origin"
VALUE = "explain-whatif-value"


def _runs(app, tcga, gdsc, registry):
    """A finished run of the researcher's on TCGA and one on GDSC (binary features), and one of the admin's."""
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        made = {"mirna": finished_run(portal, tcga, registry, n=3),
                "tissue": finished_run(portal, gdsc, registry, n=3, model=TISSUE),
                "admins": finished_run(portal, tcga, registry, n=3, role="admin")}
        return {key: (run, str(runs.results(portal, run)["sample_id"].iloc[0])) for key, run in made.items()}


@pytest.fixture
def made(app, tcga, gdsc, registry):
    return _runs(app, tcga, gdsc, registry)


def _post(client, output: str, inputs: list, state: list):
    component, prop = output.rsplit(".", 1)
    return client.post("/_dash-update-component", json={
        "output": output, "outputs": {"id": component, "property": prop}, "inputs": inputs, "state": state,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]})


def _ids(run, sample):
    return {"id": "explain-ids", "property": "data", "value": {"run": run.id, "sample": sample} if run else sample}


def _tab(client, output: str, tab: str, ids):
    return _post(client, output, [{"id": "explain-tabs", "property": "value", "value": tab}], [ids])


def _rows(client, names, ids):
    return _post(client, "explain-whatif-changes.children",
                 [{"id": "explain-whatif-features", "property": "value", "value": names}], [ids])


def _whatif(client, changes: dict, class_name, ids, control_ids=None):
    values = [{"id": {"type": VALUE, "feature": f}, "property": "value", "value": v} for f, v in changes.items()]
    given_ids = control_ids if control_ids is not None else [{"type": VALUE, "feature": f} for f in changes]
    id_items = [{"id": {"type": VALUE, "feature": str(i)}, "property": "id", "value": i} for i in given_ids]
    return _post(client, "explain-whatif-result.children",
                 [{"id": "explain-whatif-apply", "property": "n_clicks", "value": 1}],
                 [values, id_items, {"id": "explain-class", "property": "value", "value": class_name}, ids])


def _message(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    assert "Traceback" not in response.get_data(as_text=True)
    return response.json["error"]["message"]


def _found(node, component_id: str):
    """The component with this id in a Dash response's JSON tree."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        return next((f for f in map(lambda v: _found(v, component_id), node.values()) if f), None)
    if isinstance(node, list):
        return next((f for f in map(lambda v: _found(v, component_id), node) if f), None)
    return None


def _text(node) -> str:
    if isinstance(node, dict):
        return " ".join(_text(v) for v in node.values())
    if isinstance(node, list):
        return " ".join(_text(v) for v in node)
    return str(node) if isinstance(node, (str, int, float)) else ""


# -- similar reference samples ------------------------------------------------------------------------

def test_the_number_of_neighbours_is_a_setting(tmp_path):
    def read(value: str) -> Settings:
        return Settings.from_env(environ={"CANCER_ALPHA_NEIGHBOURS": value}, var_dir=tmp_path, secret_key="made-up")

    assert read("").neighbours == 10 and read("25").neighbours == 25
    for bad in ("0", "101", "ten"):
        with pytest.raises(SettingsError, match="CANCER_ALPHA_NEIGHBOURS"):
            read(bad)


def test_a_samples_neighbours_come_with_their_places_on_the_map(make_portal, tcga, gdsc, registry):
    app = make_portal(neighbours=4)  # CANCER_ALPHA_NEIGHBOURS
    run, sample = _runs(app, tcga, gdsc, registry)["mirna"]
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        shown = sample_neighbours(portal, run, sample)
        stored = runs.results(portal, run).set_index("sample_id").loc[sample]
        model = runs.run_model(portal, run)
        assert reference_samples_for(model, portal.caches.reference_samples) is reference_samples_for(
            model, portal.caches.reference_samples)  # read once per version
        projection = projection_for(model, portal.caches.projections)
    found = shown.neighbours
    assert found.k == 4 and found.predicted == stored["predicted_class"]
    assert shown.ood_score == pytest.approx(stored["ood_score"])
    rows = [projection.training_ids.index(n.id) for n in found.neighbours]
    assert np.array_equal(shown.neighbour_coordinates, projection.training_coordinates[rows])
    assert shown.sample_coordinates.shape == (1, 2) and len(shown.training_labels) == len(shown.training_coordinates)


@SQLITE_ONLY
def test_the_neighbours_tab_checks_the_caller_and_the_ids(made, client_for):
    run, sample = made["mirna"]
    owner = client_for("researcher")
    drawn = _tab(owner, "explain-neighbours-holder.children", "neighbours", _ids(run, sample))
    assert drawn.status_code == 200, drawn.get_data(as_text=True)[:400]
    tree = drawn.json["response"]["explain-neighbours-holder"]["children"]
    body = _found(tree, "explain-neighbours-table")["props"]["children"][1]["props"]["children"]
    assert len(body) == 10  # the default k
    assert "most similar training samples" in _text(_found(tree, "explain-neighbours-count"))
    assert _found(tree, "explain-neighbours-map") is not None
    other_tab = _tab(owner, "explain-neighbours-holder.children", "why", _ids(run, sample))
    assert other_tab.status_code in (200, 204) and "explain-neighbours-table" not in other_tab.get_data(as_text=True)
    assert "no sample 'nobody'" in _message(_tab(owner, "explain-neighbours-holder.children", "neighbours",
                                                 _ids(run, "nobody")), 404)
    for forged in (None, "x", {"run": 1, "sample": sample}, {"run": run.id}):
        _message(_tab(owner, "explain-neighbours-holder.children", "neighbours", _ids(None, forged)), 400)
    _message(_tab(owner, "explain-neighbours-holder.children", "neighbours", _ids(*made["admins"])), 403)  # not theirs
    _message(_tab(client_for("clinician"), "explain-neighbours-holder.children", "neighbours",
                  _ids(run, sample)), 403)  # not shared with them
    _message(_tab(client_for("analyst"), "explain-neighbours-holder.children", "neighbours",
                  _ids(run, sample)), 403)  # no `explain`
    admin = client_for("admin")  # an admin reads every run
    assert _tab(admin, "explain-neighbours-holder.children", "neighbours", _ids(run, sample)).status_code == 200


# -- what-if ------------------------------------------------------------------------------------------

def _entries(app, action: str) -> list:
    with app.server.extensions["cancer_alpha"].db.engine.connect() as connection:
        return connection.execute(select(AuditEvent).where(AuditEvent.action == action)).all()


@SQLITE_ONLY
def test_toggling_a_binary_feature_changes_the_probabilities_and_is_audited_without_values(app, made, client_for):
    run, sample = made["tissue"]
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        shown = explanations.predict_sample(portal, run.id, sample, run.user_id, "researcher")
        explained = explanations.explain_sample(portal, run, sample, shown.predicted)
    top = explained.contributions["top"][0]  # the feature that weighed most: toggling it must move the class
    toggled = 1 - int(top["value"])
    client = client_for("researcher")
    answer = _whatif(client, {top["feature"]: bool(toggled)}, shown.predicted, _ids(run, sample))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]
    tree = answer.json["response"]["explain-whatif-result"]["children"]
    bars = _found(tree, "explain-whatif-probabilities")["props"]["figure"]["data"]
    original, changed = (dict(zip(b["y"], b["x"])) for b in bars)
    assert original[shown.predicted] == pytest.approx(shown.confidence)  # the stored sample, read again
    assert abs(changed[shown.predicted] - original[shown.predicted]) > 1e-4
    assert _found(tree, "explain-whatif-waterfall-original") and _found(tree, "explain-whatif-waterfall-changed")
    (entry,) = _entries(app, "explanation.whatif")
    assert entry.target == f"{run.id}/{sample}" and entry.details["features"] == [top["feature"]]
    assert entry.details["changes"] == 1 and str(toggled) not in {str(v) for v in entry.details.values()}
    with app.server.test_request_context():  # nothing stored: the sample is as it was
        assert explanations.predict_sample(portal, run.id, sample, run.user_id, "researcher").probabilities == \
            shown.probabilities


@SQLITE_ONLY
def test_a_continuous_value_within_the_range_is_taken_and_the_rows_show_the_range(app, made, client_for, tcga):
    run, sample = made["mirna"]
    client = client_for("researcher")
    model = app.server.extensions["cancer_alpha"].registry.load(f"{run.model_name}:{run.model_version}")
    feature = model.schema.features[0]
    rows = _rows(client, [feature.name], _ids(run, sample))
    assert rows.status_code == 200
    text = _text(rows.json["response"]["explain-whatif-changes"]["children"])
    assert f"training range [{feature.minimum:g}, {feature.maximum:g}]" in text
    assert f"this sample {tcga.X.loc[sample, feature.name]:g}" in text
    many = _rows(client, model.schema.names[:MAX_CHANGES + 1], _ids(run, sample))
    assert "at most 10" in _text(many.json["response"]["explain-whatif-changes"]["children"])
    assert "'nope' is not a feature" in _message(_rows(client, ["nope"], _ids(run, sample)), 400)
    _message(_rows(client, "x", _ids(run, sample)), 400)
    answer = _whatif(client, {feature.name: feature.maximum}, "BRCA", _ids(run, sample))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]


@SQLITE_ONLY
def test_hostile_what_if_values_get_a_4xx_naming_the_feature(app, made, client_for):
    run, sample = made["mirna"]
    tissue_run, tissue_sample = made["tissue"]
    client = client_for("researcher")
    model = app.server.extensions["cancer_alpha"].registry.load(f"{run.model_name}:{run.model_version}")
    f = model.schema.features[0]
    ids = _ids(run, sample)
    refused = {
        "is outside its training range": {f.name: f.maximum + 1},
        "1e+30 is outside": {f.name: "1e30"},
        "not a finite number": {f.name: "abc"},
        "is continuous": {f.name: True},
        "give a number": {f.name: None},
        "not a feature": {"no.such.feature": 1},
    }
    for expected, changes in refused.items():
        message = _message(_whatif(client, changes, "BRCA", ids), 400)
        assert expected in message, (expected, message)
        assert "no.such.feature" in message or f.name in message
    for hostile in ([1, 2], {"a": [1]}, "9" * 5000, "y" * 100_000, -1e300, float("nan")):
        _message(_whatif(client, {f.name: hostile}, "BRCA", ids), 400)
    eleven = {name: 1 for name in model.schema.names[:MAX_CHANGES + 1]}
    assert "at most 10 features" in _message(_whatif(client, eleven, "BRCA", ids), 400)
    assert "at least one" in _message(_whatif(client, {}, "BRCA", ids), 400)
    assert "no class" in _message(_whatif(client, {f.name: f.maximum}, "NOT-A-CLASS", ids), 400)
    tissue = app.server.extensions["cancer_alpha"].registry.load(TISSUE)
    binary = tissue.schema.features[0]
    message = _message(_whatif(client, {binary.name: 0.5}, tissue.bundle.classes[0], _ids(tissue_run, tissue_sample)),
                       400)
    assert binary.name in message and "other than 0 or 1" in message
    for forged_ids in ([None], ["x"], [{"type": VALUE, "feature": 5}], [{"type": "other", "feature": f.name}]):
        _message(_whatif(client, {f.name: 1}, "BRCA", ids, control_ids=forged_ids), 400)
    _message(_whatif(client, {f.name: 1}, "BRCA", _ids(None, {"run": run.id})), 400)
    assert not _entries(app, "explanation.whatif")  # a refusal is a 4xx, not a what-if


@SQLITE_ONLY
def test_only_a_role_with_whatif_on_a_run_it_may_read(app, made, client_for):
    run, sample = made["mirna"]
    portal = app.server.extensions["cancer_alpha"]
    for role, offered in (("researcher", True), ("admin", True), ("clinician", False)):  # the clinician may read it
        if role == "clinician":  # once shared with them
            with app.server.test_request_context():
                sharing.share_with_users(portal, run.id, [email_of("clinician")], user_of(portal, "researcher").id,
                                         "researcher")
        page = render_page(app, portal, role, "/explain/<run_id>/<sample_id>", run_id=run.id, sample_id=sample)
        assert "Similar reference samples" in page and ("'What if'" in page) == offered, role
    shared = _tab(client_for("clinician"), "explain-neighbours-holder.children", "neighbours", _ids(run, sample))
    assert shared.status_code == 200  # a recipient of a share reads its neighbours
    for role in ("clinician", "analyst"):
        client = client_for(role)
        _message(_tab(client, "explain-whatif-holder.children", "whatif", _ids(run, sample)), 403)
        _message(_rows(client, ["hsa.let.7a.1"], _ids(run, sample)), 403)
        _message(_whatif(client, {"hsa.let.7a.1": 1}, "BRCA", _ids(run, sample)), 403)
    researcher = client_for("researcher")
    admins_run, admins_sample = made["admins"]
    _message(_tab(researcher, "explain-whatif-holder.children", "whatif", _ids(admins_run, admins_sample)), 403)
    _message(_whatif(researcher, {"hsa.let.7a.1": 1}, "BRCA", _ids(admins_run, admins_sample)), 403)
    drawn = _tab(researcher, "explain-whatif-holder.children", "whatif", _ids(run, sample))
    assert drawn.status_code == 200
    options = _found(drawn.json["response"]["explain-whatif-holder"]["children"], "explain-whatif-features")
    assert len(options["props"]["options"]) == len({o["value"] for o in options["props"]["options"]}) > 100
    assert _tab(client_for("admin"), "explain-whatif-holder.children", "whatif", _ids(run, sample)).status_code == 200
