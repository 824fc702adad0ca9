"""What the results and explain pages show, from the portal's functions (portal.predictions): a sample's
prediction and explanation, the run's projection, the example file, and the portal's caches that keep
them. On the session's real models and real held-out TCGA samples; SQLite only (the database part is
runs.get_run's, tested on both in test_runs.py)."""
from __future__ import annotations

import numpy as np
import pytest

from portal.predictions import examples, explanations, projection, runs
from tests.helpers import MODEL, finished_run
from tests.helpers import user_of as user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def finished(portal, tcga, registry):
    return finished_run(portal, tcga, registry, n=12), user(portal, "researcher")


@SQLITE_ONLY
def test_a_sample_is_predicted_and_explained_as_the_run_did(portal, finished, tcga):
    run, researcher = finished
    stored = runs.results(portal, run).iloc[3]
    shown = explanations.predict_sample(portal, run.id, stored["sample_id"], researcher.id, "researcher")
    assert shown.predicted == stored["predicted_class"] and shown.confidence == pytest.approx(stored["confidence"])
    assert shown.version.ref == f"{MODEL}:{run.model_version}" and len(shown.probabilities) == len(shown.classes)
    assert max(shown.probabilities) == pytest.approx(shown.confidence)
    assert shown.true_label == stored["true_label"] == tcga.y.loc[stored["sample_id"]]  # the file's own label

    explained = explanations.explain_sample(portal, run, shown.sample_id, shown.predicted)
    assert explained.class_name == shown.predicted and explained.contributions["group_sums"]
    assert len(explained.feature_context) == explanations.CONTEXT_FEATURES
    assert all(item["training_values"] for item in explained.feature_context)
    assert len(portal.caches.training_samples) == 1  # read once for the version
    explanations.explain_sample(portal, run, shown.sample_id, shown.classes[0])
    assert len(portal.caches.training_samples) == 1


@SQLITE_ONLY
def test_only_a_finished_run_of_ones_own_is_explained(portal, finished):
    run, _ = finished
    with pytest.raises(runs.RunError) as other:
        explanations.predict_sample(portal, run.id, "any", user(portal, "clinician").id, "clinician")
    assert other.value.status == 403
    with pytest.raises(runs.RunError) as missing:
        explanations.predict_sample(portal, run.id, "no-such-sample", run.user_id, "researcher")
    assert missing.value.status == 404


@SQLITE_ONLY
def test_the_projection_is_fitted_once_and_places_every_sample(portal, finished):
    run, _ = finished
    model = runs.run_model(portal, run)
    first = projection.run_projection(portal, run, model)
    again = projection.run_projection(portal, run, model)
    assert first.upload_coordinates.shape == (12, 2)
    assert np.array_equal(first.upload_coordinates, again.upload_coordinates)
    assert first.training_coordinates is again.training_coordinates  # the same fitted projection
    assert len(portal.caches.projections) == 1 and len(portal.caches.uploads) == 1


@SQLITE_ONLY
def test_the_example_file_holds_the_held_out_samples_with_their_classes(portal, registry, tcga):
    version = registry.version_of(MODEL, 1)
    frame = examples.held_out_samples(portal, MODEL, 1)
    assert frame[version.schema.id_column].tolist() == version.test_ids
    assert frame[runs.LABEL_COLUMN].tolist() == tcga.y.loc[version.test_ids].tolist()
    assert list(frame.columns[2:]) == version.schema.names


def _explain_figures(client, class_name, ids):
    """The explain page's figures callback, posted as a browser would (or as a forged request)."""
    return client.post("/_dash-update-component", json={
        "output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": "children"},
        "inputs": [{"id": "explain-class", "property": "value", "value": class_name}],
        "state": [{"id": "explain-ids", "property": "data", "value": ids}],
        "changedPropIds": ["explain-class.value"]})


def _explain_context(client, class_name, ids):
    return client.post("/_dash-update-component", json={
        "output": "explain-context-holder.children",
        "outputs": {"id": "explain-context-holder", "property": "children"},
        "inputs": [{"id": "explain-tabs", "property": "value", "value": "context"},
                   {"id": "explain-class", "property": "value", "value": class_name}],
        "state": [{"id": "explain-ids", "property": "data", "value": ids}],
        "changedPropIds": ["explain-tabs.value"]})


@SQLITE_ONLY
def test_the_explain_callback_refuses_forged_input_with_4xx(app, client_for, tcga, registry):
    with app.server.app_context():  # a finished run of the researcher's; the clients then sign in
        portal = app.server.extensions["cancer_alpha"]
        run = finished_run(portal, tcga, registry, n=3)
        sample = runs.results(portal, run).iloc[0]["sample_id"]
    owner, other = client_for("researcher"), client_for("clinician")
    assert _explain_figures(owner, "BRCA", {"run": run.id, "sample": sample}).status_code == 200
    assert _explain_figures(owner, "no-such-class", {"run": run.id, "sample": sample}).status_code == 400
    assert _explain_figures(owner, "BRCA", {"run": run.id, "sample": "no-such-sample"}).status_code == 404
    for forged in (None, "x", {"run": 1, "sample": sample}, {"run": run.id}):
        response = _explain_figures(owner, "BRCA", forged)
        assert response.status_code == 400 and response.json["error"]["code"] == "bad-request"
    assert _explain_figures(other, "BRCA", {"run": run.id, "sample": sample}).status_code == 403  # not theirs
    for forged in (None, {"run": run.id}):  # the second tab's callback checks the same way
        assert _explain_context(owner, "BRCA", forged).status_code == 400
    assert _explain_context(other, "BRCA", {"run": run.id, "sample": sample}).status_code == 403
    drawn = _explain_context(owner, "BRCA", {"run": run.id, "sample": sample})
    assert drawn.json["response"]["explain-context-holder"]["children"]["props"]["id"] == "explain-context"
