"""The sharing and review callbacks (pages/run.py, pages/explain.py) as a browser posts them, and forged
posts (4xx, never a 500); what Home, My runs, a run's grid and the explain page show a recipient and an
owner. SQLite only (the database part is tested on both in test_sharing.py); real held-out TCGA samples."""
from __future__ import annotations

import pytest

from portal.predictions import reviews, runs, sharing
from tests.helpers import email_of, finished_run, post_grid_rows, render_page
from tests.helpers import user_of as user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def shared(app, tcga, registry):
    """A finished run of the researcher's (four samples); nothing shared yet."""
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        run = finished_run(portal, tcga, registry, n=4)
        samples = runs.results(portal, run)["sample_id"].astype(str).tolist()
    return portal, run.id, samples


def _share(client, run_id, emails=None, role=None, revoke=None, trigger="run-share-submit"):
    return client.post("/_dash-update-component", json={
        "output": "..run-share-message.children...run-share-list.children...run-share-revoke-choice.options..."
                  "run-share-revoke-choice.value..",
        "outputs": [{"id": "run-share-message", "property": "children"},
                    {"id": "run-share-list", "property": "children"},
                    {"id": "run-share-revoke-choice", "property": "options"},
                    {"id": "run-share-revoke-choice", "property": "value"}],
        "inputs": [{"id": "run-share-submit", "property": "n_clicks", "value": 1},
                   {"id": "run-share-revoke", "property": "n_clicks", "value": 1}],
        "state": [{"id": "run-share-emails", "property": "value", "value": emails},
                  {"id": "run-share-role", "property": "value", "value": role},
                  {"id": "run-share-revoke-choice", "property": "value", "value": revoke},
                  {"id": "run-id", "property": "data", "value": run_id}],
        "changedPropIds": [f"{trigger}.n_clicks"]})


def _review(client, ids, verdict="agree", note=""):
    return client.post("/_dash-update-component", json={
        "output": "..explain-review-message.children...explain-review-list.children..",
        "outputs": [{"id": "explain-review-message", "property": "children"},
                    {"id": "explain-review-list", "property": "children"}],
        "inputs": [{"id": "explain-review-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "explain-review-verdict", "property": "value", "value": verdict},
                  {"id": "explain-review-note", "property": "value", "value": note},
                  {"id": "explain-ids", "property": "data", "value": ids}],
        "changedPropIds": ["explain-review-submit.n_clicks"]})


def _text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


@SQLITE_ONLY
def test_the_share_callback_shares_revokes_and_refuses_forged_posts(app, client_for, shared):
    portal, run_id, _ = shared
    owner, clinician = client_for("researcher"), client_for("clinician")
    assert "Shared with 1 new user" in _text(_share(owner, run_id, emails=email_of("clinician")))
    assert "no active user has the e-mail address nobody@example.org" in _text(
        _share(owner, run_id, emails="nobody@example.org"))
    assert "is not an e-mail address" in _text(_share(owner, run_id, emails="not an address"))
    assert "role must be one of" in _text(_share(owner, run_id, role="surgeon"))
    assert "Name users by e-mail" in _text(_share(owner, run_id))
    assert "everyone with role analyst" in _text(_share(owner, run_id, role="analyst"))
    # forged posts
    assert _share(owner, None, role="analyst").status_code == 400
    assert _share(owner, "no-such-run", role="analyst").status_code == 404
    assert _share(owner, run_id, emails=["x"]).status_code == 400
    assert _share(owner, run_id, revoke="1", trigger="run-share-revoke").status_code == 400
    assert _share(clinician, run_id, role="clinician").status_code == 403  # a recipient may not share
    with app.server.app_context():
        share = sharing.active_shares(portal, run_id, user(portal, "researcher").id, "researcher")[0]
    assert _share(clinician, run_id, revoke=share.id, trigger="run-share-revoke").status_code == 403
    assert "revoked" in _text(_share(owner, run_id, revoke=share.id, trigger="run-share-revoke"))
    assert "no active share" in _text(_share(owner, run_id, revoke=share.id, trigger="run-share-revoke"))


@SQLITE_ONLY
def test_the_review_callback_records_and_refuses_forged_posts(app, client_for, shared):
    portal, run_id, samples = shared
    owner, clinician, admin = client_for("researcher"), client_for("clinician"), client_for("admin")
    ids = {"run": run_id, "sample": samples[0]}
    assert _review(clinician, ids).status_code == 403  # not shared with the clinician yet
    _text(_share(owner, run_id, emails=email_of("clinician")))
    text = _text(_review(clinician, ids, "disagree", "Morphology suggests another primary."))
    assert "Review recorded (disagree), signed Clinician" in text and "Morphology" in text
    assert "keep it to 500" in _text(_review(clinician, ids, "agree", "x" * 600))
    assert "the verdict must be one of" in _text(_review(clinician, ids, None))
    assert "the note must be text" in _text(_review(clinician, ids, "agree", {"a": 1}))
    for forged in (None, "x", {"run": run_id}, {"run": 1, "sample": samples[0]}):
        assert _review(clinician, forged).status_code == 400
    assert _review(clinician, {"run": run_id, "sample": "no-such-sample"}).status_code == 404
    assert _review(clinician, {"run": "no-such-run", "sample": samples[0]}).status_code == 404
    assert _review(owner, ids).status_code == 403  # researchers do not review
    assert "signed Administrator" in _text(_review(admin, ids, "needs-more-data"))  # an admin reviews any run
    with app.server.app_context():
        current = reviews.current_by_sample(portal, runs.get_run(portal, run_id, user(portal, "admin").id, "admin"))
    assert reviews.grid_text(current[samples[0]]) == "needs more data (Administrator); disagree (Clinician)"


@SQLITE_ONLY
def test_pages_show_what_is_shared_and_what_waits(app, client_for, shared):
    portal, run_id, samples = shared
    home = render_page(app, portal, "clinician", "/")
    assert "home-shared-empty" in home and "home-review-empty" in home and "Upload a cohort on Predict" in home
    assert "runs-empty" in render_page(app, portal, "clinician", "/runs")
    owner, clinician = client_for("researcher"), client_for("clinician")
    _text(_share(owner, run_id, role="clinician"))
    _text(_review(clinician, {"run": run_id, "sample": samples[0]}, "agree", "Consistent."))

    home = render_page(app, portal, "clinician", "/")
    assert "home-shared" in home and "shared by Researcher" in home
    assert "Samples awaiting your review (3)" in home and all(f"Sample {s}" in home for s in samples[1:])
    assert f"Sample {samples[0]}" not in home  # reviewed
    assert "home-runs-empty" in home
    my_runs = render_page(app, portal, "clinician", "/runs")
    assert "shared by Researcher" in my_runs and run_id in my_runs
    run_page = render_page(app, portal, "clinician", "/runs/<run_id>", run_id=run_id)
    assert "run-shared-note" in run_page and "run-share-submit" not in run_page
    rows = post_grid_rows(clinician, run_id, {"startRow": 0, "endRow": 10}).json["response"]["run-grid"]
    assert "agree (Clinician)" in [r["review"] for r in rows["getRowsResponse"]["rowData"]]  # the Review column
    explain = render_page(app, portal, "clinician", "/explain/<run_id>/<sample_id>", run_id=run_id, sample_id=samples[0])
    assert "explain-review-submit" in explain and "Consistent." in explain

    owners_run = render_page(app, portal, "researcher", "/runs/<run_id>", run_id=run_id)
    assert "run-share-submit" in owners_run and "everyone with role clinician" in owners_run
    owners_explain = render_page(app, portal, "researcher", "/explain/<run_id>/<sample_id>", run_id=run_id,
                             sample_id=samples[0])
    assert "Consistent." in owners_explain and "explain-review-submit" not in owners_explain
    owners_home = render_page(app, portal, "researcher", "/")
    assert "home-runs" in owners_home and "home-review" not in owners_home  # researchers do not review
    assert "Not shared" not in owners_run
    analyst_run = render_page(app, portal, "analyst", "/runs/<run_id>", run_id=run_id)
    assert "run-grid" not in analyst_run  # no share reaches the analyst (nor may the role open runs)
