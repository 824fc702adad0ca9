"""A finished run's page: the results grid paged, sorted and filtered on the server (and forged grid
requests refused with 4xx), the figures drawn once and stored with the results, and a run that no
worker picked up shown as such and retried by its owner."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from components import run_figures
from portal.core.models import AuditEvent, PredictionRun, utcnow
from portal.core.states import RunStatus
from portal.predictions import figure_store, result_rows, runs, sharing, waiting
from tests.helpers import DATA_USE, MODEL, cohort_csv, email_of, finished_run, post_grid_rows
from tests.helpers import user_of as user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Made-up rows (not samples of any model): the grid's columns, to test sorting and filtering alone.
TABLE = pd.DataFrame({
    "sample_id": ["a/1", "B-2", "c#3", "d 4", "e5"],
    "predicted_class": ["BRCA", "PRAD", "brca", "SKCM", "PRAD"],
    "confidence": [0.9, 0.5, 0.7, 0.5, 0.99],
    "abstain": ["no", "yes", "no", "yes", "no"],
    "review": ["", "agree (Clinician)", "", "", ""],
})


def _ids(request: dict) -> tuple[list[str], int]:
    rows, count = result_rows.block(TABLE, {"startRow": 0, "endRow": 100, **request})
    return [r["sample_id"] for r in rows], count


def test_the_grid_sorts_and_filters_on_the_server():
    assert _ids({}) == (["a/1", "B-2", "c#3", "d 4", "e5"], 5)
    # ties keep the upload's order, in both directions
    assert _ids({"sortModel": [{"colId": "confidence", "sort": "asc"}]})[0] == ["B-2", "d 4", "c#3", "a/1", "e5"]
    assert _ids({"sortModel": [{"colId": "confidence", "sort": "desc"}]})[0] == ["e5", "a/1", "c#3", "B-2", "d 4"]
    text = {"filterType": "text", "type": "equals", "filter": "BRCA"}  # case-insensitive, like the browser's
    assert _ids({"filterModel": {"predicted_class": text}}) == (["a/1", "c#3"], 2)
    assert _ids({"filterModel": {"sample_id": {"filterType": "text", "type": "contains", "filter": "#"}}})[0] == ["c#3"]
    in_range = {"filterType": "number", "type": "inRange", "filter": 0.5, "filterTo": 0.9}
    assert _ids({"filterModel": {"confidence": in_range}})[1] == 4
    either = {"filterType": "number", "operator": "OR", "conditions": [
        {"filterType": "number", "type": "lessThan", "filter": 0.6},
        {"filterType": "number", "type": "greaterThan", "filter": 0.95}]}
    assert _ids({"filterModel": {"confidence": either}})[0] == ["B-2", "d 4", "e5"]
    both = {"filterModel": {"abstain": {"filterType": "text", "type": "equals", "filter": "yes"},
                            "review": {"filterType": "text", "type": "notBlank"}}}
    assert _ids(both) == (["B-2"], 1)
    rows, count = result_rows.block(TABLE, {"startRow": 3, "endRow": 10})  # the last block may be short
    assert [r["sample_id"] for r in rows] == ["d 4", "e5"] and count == 5


@pytest.mark.parametrize("request_, message", [
    (None, "must be an object"),
    ({"startRow": "0", "endRow": 10}, "startRow must be a row number"),
    ({"startRow": 0, "endRow": 5_000}, "1 to 1,000 rows"),
    ({"startRow": 0, "endRow": 10, "sortModel": [{"colId": "__class__", "sort": "asc"}]}, "no column '__class__'"),
    ({"startRow": 0, "endRow": 10, "sortModel": [{"colId": "confidence", "sort": "up"}]}, "'asc' or 'desc'"),
    ({"startRow": 0, "endRow": 10, "sortModel": "confidence"}, "sortModel must be a list"),
    ({"startRow": 0, "endRow": 10, "filterModel": {"confidence": {"filterType": "number", "type": "equals",
                                                                  "filter": "1; DROP TABLE"}}}, "needs numbers"),
    ({"startRow": 0, "endRow": 10, "filterModel": {"sample_id": {"filterType": "text", "type": "regex",
                                                                 "filter": ".*"}}}, "cannot be filtered"),
    ({"startRow": 0, "endRow": 10, "filterModel": {"sample_id": {"filterType": "text", "type": "contains",
                                                                 "filter": "x" * 10_000}}}, "at most 200"),
    ({"startRow": 0, "endRow": 10, "filterModel": {"confidence": {"operator": "XOR", "conditions": []}}},
     "by AND or OR"),
])
def test_a_forged_grid_request_is_refused_naming_what_is_wrong(request_, message):
    with pytest.raises(runs.RunError, match=message) as refused:
        result_rows.block(TABLE, request_)
    assert refused.value.status == 400


@pytest.fixture
def done(app, tcga, registry):
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        return portal, finished_run(portal, tcga, registry, n=30)


@SQLITE_ONLY
def test_the_grid_callback_pages_a_run_for_whoever_may_read_it(app, client_for, done):
    portal, run = done
    owner, clinician = client_for("researcher"), client_for("clinician")
    answer = post_grid_rows(owner, run.id, {"startRow": 10, "endRow": 20,
                                            "sortModel": [{"colId": "confidence", "sort": "desc"}]})
    assert answer.status_code == 200
    block = answer.json["response"]["run-grid"]["getRowsResponse"]
    with app.server.app_context():
        results = runs.results(portal, run)
    shown = results.assign(confidence=results["confidence"].round(4))  # sorted as shown, ties in upload order
    expected = shown.sort_values("confidence", ascending=False, kind="mergesort")["sample_id"].iloc[10:20]
    assert [r["sample_id"] for r in block["rowData"]] == expected.astype(str).tolist()
    assert block["rowCount"] == 30 and set(block["rowData"][0]) >= {"predicted_class", "confidence", "abstain",
                                                                    "out_of_distribution", "review", "true_label"}
    assert {r["abstain"] for r in block["rowData"]} <= {"yes", "no"}
    assert post_grid_rows(clinician, run.id, {"startRow": 0, "endRow": 10}).status_code == 403  # not shared
    with app.server.app_context():
        sharing.share_with_users(portal, run.id, [email_of("clinician")], user(portal, "researcher").id,
                                 "researcher")
    assert post_grid_rows(clinician, run.id, {"startRow": 0, "endRow": 10}).status_code == 200
    assert post_grid_rows(owner, "no-such-run", {"startRow": 0, "endRow": 10}).status_code == 404
    forged = post_grid_rows(owner, run.id, {"startRow": 0, "endRow": 10, "sortModel": [{"colId": "x", "sort": "asc"}]})
    assert forged.status_code == 400 and "no column 'x'" in forged.get_data(as_text=True)
    assert post_grid_rows(owner, run.id, "everything").status_code == 400
    assert post_grid_rows(client_for("analyst"), run.id, {"startRow": 0, "endRow": 10}).status_code == 403


@SQLITE_ONLY
def test_figures_are_drawn_once_stored_encrypted_and_drawn_again_by_new_code(app, done):
    portal, run = done
    with app.server.app_context():
        first = figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
        assert set(first) == {"class_counts", "confidence", "confidence_ood", "projection", "label_confusion"}
        stored = portal.settings.storage_dir / "runs" / run.id / "figures.json"
        assert stored.exists() and b"confidence" not in stored.read_bytes()  # encrypted like the results

        def must_not_draw(_inputs):
            raise AssertionError("stored figures were drawn again")

        assert figure_store.figures(portal, run, run_figures.FORMAT, must_not_draw) == first
        redrawn = figure_store.figures(portal, run, run_figures.FORMAT + 1, lambda _inputs: {"marker": {"data": []}})
        assert redrawn == {"marker": {"data": []}}  # figures of an older drawing are never shown
        stored.write_bytes(b"damaged")
        assert figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw) == first


@SQLITE_ONLY
def test_the_prediction_job_stores_the_figures_when_the_run_finishes(app, tcga, registry):
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        owner = user(portal, "researcher")
        upload = runs.save_upload(portal, owner.id, "cohort.csv", cohort_csv(tcga, registry, n=6), MODEL,
                                  data_use=DATA_USE).upload
        run = runs.queue_run(portal, upload.id, owner.id, "researcher")
        job = figure_store.predict_and_draw(run_figures.FORMAT, run_figures.draw)
        assert job(portal, run.id) == RunStatus.DONE
        assert (portal.settings.storage_dir / "runs" / run.id / "figures.json").exists()


def _queued(portal, tcga, registry, waited: timedelta) -> PredictionRun:
    owner = user(portal, "researcher")
    upload = runs.save_upload(portal, owner.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, owner.id, "researcher")
    with portal.db.session() as session:
        session.execute(update(PredictionRun).where(PredictionRun.id == run.id)
                        .values(created_at=utcnow() - waited))
    return runs.get_run(portal, run.id, owner.id, "researcher")


def _retry(client, run_id):
    return client.post("/_dash-update-component", json={
        "output": "..run-retry-queued.data...run-retry-message.children..",
        "outputs": [{"id": "run-retry-queued", "property": "data"},
                    {"id": "run-retry-message", "property": "children"}],
        "inputs": [{"id": "run-retry-run", "property": "n_clicks", "value": 1}],
        "state": [{"id": "run-id", "property": "data", "value": run_id}],
        "changedPropIds": ["run-retry-run.n_clicks"]})


@SQLITE_ONLY
def test_a_run_no_worker_picked_up_says_so_and_its_owner_retries_it(app, client_for, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        fresh = _queued(portal, tcga, registry, timedelta(seconds=5))
        stale = _queued(portal, tcga, registry, timedelta(minutes=10))
        assert not waiting.stalled(portal, fresh) and waiting.stalled(portal, stale)
        assert waiting.status_words(portal, fresh).startswith("Queued: waiting for a worker to pick it up (5 s")
        assert waiting.status_words(portal, stale).startswith("No worker picked this run up in 10 minutes")
    owner = client_for("researcher")
    assert "wait a little" in _retry(owner, fresh.id).get_data(as_text=True)  # not stalled: nothing started
    answer = _retry(owner, stale.id)
    assert answer.status_code == 200 and answer.json["response"]["run-retry-queued"]["data"] == stale.id
    assert _retry(client_for("clinician"), stale.id).status_code == 403  # not theirs (nor shared)
    assert _retry(owner, "no-such-run").status_code == 404
    with app.server.app_context():
        sharing.share_with_role(portal, stale.id, "clinician", user(portal, "researcher").id, "researcher")
    assert _retry(client_for("clinician"), stale.id).status_code == 403  # a recipient reads, never retries
    with app.server.test_request_context():
        assert runs.execute_run(portal, stale.id) == RunStatus.DONE  # the job the retry starts
        assert "only a run waiting for a worker" in str(pytest.raises(
            runs.RunError, waiting.retry, portal, stale.id, user(portal, "researcher").id, "researcher").value)
        with portal.db.session() as session:
            retries = session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.action == "prediction.retry"))
    assert retries == 1
