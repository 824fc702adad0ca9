"""A queued run starts only for its owner (or an admin): a run id posted by hand to a background job's
callback (/_dash-update-component, as the browser posts it) is refused like one in a URL, audited once,
and the run stays queued. On SQLite and PostgreSQL; the users are the made-up test accounts."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.models import AuditEvent, NotebookRun, PredictionRun
from portal.core.states import RunStatus
from portal.jobs.managers import GUARDED
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, cohort_csv, user_of

JOBS = {  # the background callback's output -> the store its run id arrives in
    "predict": ("predict-finished.data", "predict-queued.data"),
    "retry": ("run-retry-finished.data", "run-retry-queued.data"),
    "notebooks": ("notebooks-finished.data", "notebooks-queued.data"),
}


def job_body(app, output: str, run_input: str, run_id) -> dict:
    """The body Dash's renderer posts to start (or poll) a background job."""
    key = next(k for k in app.callback_map if k == output)
    component, prop = run_input.split(".")
    out_id, out_prop = output.split(".")
    assert [f"{d['id']}.{d['property']}" for d in app.callback_map[key]["inputs"]] == [run_input]
    return {"output": key, "outputs": {"id": out_id, "property": out_prop},
            "inputs": [{"id": component, "property": prop, "value": run_id}], "state": [],
            "changedPropIds": [run_input]}


def queued_prediction(portal, tcga, registry, role: str = "researcher") -> PredictionRun:
    """(Called in a request context of its own, closed before the test client's requests: an open one
    would share its flask.g, and the signed-in user kept there, with them.)"""
    owner = user_of(portal, role)
    upload = runs.save_upload(portal, owner.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                              data_use=DATA_USE).upload
    return runs.queue_run(portal, upload.id, owner.id, role)


def queued_notebook(portal, role: str = "analyst") -> NotebookRun:
    spec = notebook_catalog.get(portal.caches.notebook_catalog, "model_evaluation")
    return notebook_runs.queue(portal, spec, {"model": MODEL}, user_of(portal, role).id, role)


def _denials(db, action: str, target: str) -> int:
    with db.session() as session:
        return len(session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                             AuditEvent.target == target)).all())


def _status(db, model, run_id) -> str:
    with db.session() as session:
        return session.get(model, run_id).status


@pytest.fixture
def made(app):
    """made(function, *args): what function(portal, *args) returns, made in a request context of its own."""
    def make(function, *args):
        with app.server.test_request_context():
            return function(app.server.extensions["cancer_alpha"], *args)
    return make


@pytest.mark.parametrize("job", ["predict", "retry"])
def test_another_user_cannot_start_a_queued_prediction(app, made, client_for, db, tcga, registry, job):
    run = made(queued_prediction, tcga, registry, "researcher")
    output, run_input = JOBS[job]
    response = client_for("clinician").post("/_dash-update-component", json=job_body(app, output, run_input, run.id))
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "forbidden" and "another user" in response.json["error"]["message"]
    assert "cacheKey" not in response.get_data(as_text=True)  # no job was started
    assert _status(db, PredictionRun, run.id) == RunStatus.QUEUED
    assert _denials(db, "run.denied", run.id) == 1  # the refusal, audited once


def test_another_user_cannot_start_a_queued_notebook_run(app, made, client_for, db):
    run = made(queued_notebook, "analyst")
    output, run_input = JOBS["notebooks"]
    response = client_for("researcher").post("/_dash-update-component", json=job_body(app, output, run_input, run.id))
    assert response.status_code == 403, response.get_data(as_text=True)
    assert "owner or an admin" in response.json["error"]["message"]
    assert _status(db, NotebookRun, run.id) == RunStatus.QUEUED
    assert _denials(db, "notebook.denied", run.id) == 1


def test_unknown_or_malformed_run_ids_are_refused(app, client_for):
    client = client_for("researcher")
    for run_id, status in (("0" * 32, 404), ("x" * 65, 404), (None, 400), (7, 400), (["a"], 400), ({"run": "a"}, 400)):
        for output, run_input in JOBS.values():
            response = client.post("/_dash-update-component", json=job_body(app, output, run_input, run_id))
            assert response.status_code == status, (output, run_id, response.get_data(as_text=True))
            assert set(response.json) == {"error"}


def test_a_forged_dependency_cannot_hide_the_run_id(app, made, client_for, tcga, registry):
    """The guard reads the run id where the callback reads it: a body naming another input is refused."""
    run = made(queued_prediction, tcga, registry, "researcher")
    body = job_body(app, *JOBS["predict"], run.id)
    body["inputs"][0]["id"] = "something-else"
    response = client_for("clinician").post("/_dash-update-component", json=body)
    assert response.status_code == 400 and "predict-queued.data" in response.json["error"]["message"]


def test_the_owner_and_an_admin_may_start_it(app, portal, tcga, registry):
    """The guard's decision for the people the page serves (starting the job itself is the browser tests')."""
    prediction, notebook = queued_prediction(portal, tcga, registry, "researcher"), queued_notebook(portal, "analyst")
    guards = app.server.extensions[GUARDED]
    for output, run, owner_role in (("predict-finished.data", prediction, "researcher"),
                                    ("run-retry-finished.data", prediction, "researcher"),
                                    ("notebooks-finished.data", notebook, "analyst")):
        guard = guards[output]
        for role in (owner_role, "admin"):
            assert guard.may_start(portal, run.id, user_of(portal, role).id, role).id == run.id
        assert guard.run_input == output.replace("-finished", "-queued")
