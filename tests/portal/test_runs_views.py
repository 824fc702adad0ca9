"""My runs (pages/runs.py) and the comparison page (pages/run_compare.py) as a browser posts their
callbacks and renders them: forged run ids in the compare, delete and rename callbacks answer 4xx (never a
500, never a change), and the pages show file names, run names and the comparison. SQLite only (the
services are tested on both databases in test_lifecycle.py and test_comparison.py); real held-out TCGA
samples."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.core.models import PredictionRun
from portal.predictions import runs, sharing
from tests.helpers import DATA_USE, MODEL, cohort_csv, email_of, finished_run, render_page
from tests.helpers import user_of as user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def two_runs(app, tcga, registry):
    """Two finished runs of the researcher's (four and three real held-out samples; the second named)."""
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        first = finished_run(portal, tcga, registry, n=4)
        second = finished_run(portal, tcga, registry, n=3)
        with portal.db.session() as session:
            session.get(PredictionRun, second.id).name = "second batch"
    return portal, first.id, second.id


def _post(app, client, trigger: str, values: dict):
    """Post the callback fired by `trigger` (an id.property of its inputs) with the given input and state
    values (id.property -> value; None for the others), as the browser does."""
    key, spec = next((k, s) for k, s in app.callback_map.items() if "callback" in s
                     and f"{s['inputs'][0]['id']}.{s['inputs'][0]['property']}" == trigger)
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
               for o in key.strip(".").split("...") if o]
    item = lambda i: {"id": i["id"], "property": i["property"],  # noqa: E731
                      "value": values.get(f"{i['id']}.{i['property']}", 1 if i is spec["inputs"][0] else None)}
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [item(i) for i in spec["inputs"]], "state": [item(s) for s in spec["state"]],
        "changedPropIds": [trigger]})


def _compare(app, client, selected):
    return _post(app, client, "runs-compare.n_clicks", {"runs-grid.selectedRows": selected})


def _delete(app, client, selected):
    return _post(app, client, "runs-delete.submit_n_clicks", {"runs-grid.selectedRows": selected})


def _rename(app, client, selected, name):
    return _post(app, client, "runs-rename.n_clicks", {"runs-grid.selectedRows": selected,
                                                       "runs-rename-name.value": name})


def _rows(*ids):
    return [{"run": run_id, "status": "done"} for run_id in ids]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _text(response) -> str:
    """Every text in a callback's answer (200 expected), one a line."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return "\n".join(_strings(response.json))


def _runs_left(portal) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(PredictionRun))


FORGED = [None, "x", [1, 2], [{"run": 5}], [{"id": "a"}], {"run": "a"}, [{"run": ""}]]


@SQLITE_ONLY
def test_compare_callback_opens_the_comparison_and_refuses_forged_ids(app, client_for, two_runs):
    portal, first, second = two_runs
    owner, clinician = client_for("researcher"), client_for("clinician")
    text = _text(_compare(app, owner, _rows(first, second)))
    assert f"/runs/compare?a={first}&b={second}" in text
    assert "Tick exactly two runs" in _text(_compare(app, owner, _rows(first)))
    assert _compare(app, owner, _rows(first, "no-such-run")).status_code == 404
    assert _compare(app, clinician, _rows(first, second)).status_code == 403  # not shared with the clinician
    for forged in FORGED[1:]:
        response = _compare(app, owner, forged)
        assert response.status_code == 400 and response.json["error"]["code"] == "bad-request", forged
    with app.server.app_context():
        sharing.share_with_users(portal, first, [email_of("clinician")], user(portal, "researcher").id, "researcher")
    assert _compare(app, clinician, _rows(first, second)).status_code == 403  # only one of them is shared


@SQLITE_ONLY
def test_delete_and_rename_callbacks_refuse_forged_ids_and_other_users(app, client_for, two_runs):
    portal, first, second = two_runs
    owner, clinician, admin = client_for("researcher"), client_for("clinician"), client_for("admin")
    with app.server.app_context():
        sharing.share_with_role(portal, first, "clinician", user(portal, "researcher").id, "researcher")
    assert _delete(app, clinician, _rows(first)).status_code == 403  # a recipient may read, not delete
    assert _rename(app, clinician, _rows(first), "mine").status_code == 403
    assert _delete(app, owner, _rows("no-such-run")).status_code == 404
    assert _rename(app, owner, _rows("no-such-run"), "x").status_code == 404
    for forged in FORGED[1:]:
        assert _delete(app, owner, forged).status_code == 400, forged
        assert _rename(app, owner, forged, "x").status_code == 400, forged
    assert "Tick one run of yours" in _text(_delete(app, owner, _rows(first, second)))
    assert _runs_left(portal) == 2  # nothing was deleted

    assert "keep the run name to 200 characters" in _text(_rename(app, owner, _rows(first), "y" * 201))
    renamed = _text(_rename(app, owner, _rows(first), " cohort A "))
    assert 'to "cohort A"' in renamed and "second batch" in renamed  # the grid's rows come back
    text = _text(_delete(app, owner, _rows(first)))
    assert 'Deleted "cohort A"' in text and "1 share(s)" in text
    assert _runs_left(portal) == 1
    text = _text(_delete(app, admin, _rows(second)))  # an admin deletes anyone's run; the list is empty then
    assert 'Deleted "second batch"' in text and "runs-empty" in text and _runs_left(portal) == 0


@SQLITE_ONLY
def test_my_runs_and_the_comparisonrender_page(app, two_runs):
    portal, first, second = two_runs
    my_runs = render_page(app, portal, "researcher", "/runs")
    assert "cohort.csv" in my_runs and "second batch" in my_runs and "paginationPageSizeSelector" in my_runs
    assert "id='runs-empty'" not in my_runs and "runs-compare" in my_runs
    page = render_page(app, portal, "researcher", "/runs/compare", a=first, b=second)
    assert "compare-class-counts" in page and "compare-confidence" in page
    assert "3 samples are in both runs (1 only in A, 0 only in B)" in page and "agreement 100.0%" in page
    assert "Both runs use model" in page and "second batch" in page
    assert "belongs to another user" in render_page(app, portal, "clinician", "/runs/compare", a=first, b=second)
    assert "no prediction run no-such" in render_page(app, portal, "researcher", "/runs/compare", a=first, b="no-such")
    assert "Choose two runs" in render_page(app, portal, "researcher", "/runs/compare")
    with app.server.app_context():
        assert len(runs.list_runs(portal, user(portal, "researcher").id, "researcher")) == 2


@SQLITE_ONLY
def test_the_predict_callback_names_the_run(app, client_for, tcga, registry):
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        researcher = user(portal, "researcher")
        upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                                  data_use=DATA_USE).upload
    owner = client_for("researcher")
    queue = lambda name: _post(app, owner, "predict-run.n_clicks", {  # noqa: E731
        "predict-upload-id.data": upload.id, "predict-run-name.value": name})
    assert "keep the run name to 200 characters" in _text(queue("z" * 201))
    run_id = queue("  third batch ").json["response"]["predict-queued"]["data"]
    assert queue(None).status_code == 200
    with app.server.app_context():
        named = runs.get_run(portal, run_id, researcher.id, "researcher")
        assert named.name == "third batch"
        assert [r.name for r in runs.list_runs(portal, researcher.id, "researcher")] == [None, "third batch"]
