"""The Monitoring page's database side and drift, on real stored runs and uploads: activity counts equal what
the runs and the API's audit entries hold; drift of an upload of a model's real held-out samples is small, of a
shifted copy (the same real samples with one block of features multiplied by SHIFT, said so here) is not, and
the banner says so; purged uploads are not read; the drift cache and the /metrics gauges reuse one computation;
only admins see the page or get an answer from its callbacks.

Accounts are the made-up test users; every sample is a real held-out TCGA sample."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from engine import drift as engine_drift
from portal.accounts import api_keys
from portal.accounts.permissions import ROLES
from portal.monitoring import activity, drift
from portal.monitoring.drift_metrics import DriftCollector
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import runs
from portal.retention import purge
from tests.helpers import DATA_USE, MODEL, auth, finished_run, held_out_frame, render_page, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SHIFT = 3.0  # the made-up change of the shifted copy: the first SHIFTED features of every sample times 3
SHIFTED = 40


def _upload(app, frame, name: str):
    """An upload of the researcher's, stored as the Predict page stores it (in a request of its own)."""
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        owner = user_of(portal, "researcher")
        content = frame.to_csv(index=False).encode()
        return runs.save_upload(portal, owner.id, name, content, MODEL, data_use=DATA_USE).upload


def _shifted(tcga, registry):
    """All the model's held-out samples, with their first SHIFTED features multiplied by SHIFT (made up)."""
    frame = held_out_frame(tcga, registry, labels=False)
    names = list(frame.columns[1:1 + SHIFTED])
    frame[names] = frame[names] * SHIFT
    return frame, names


def test_activity_counts_what_runs_and_the_api_stored(app, portal, tcga, registry):
    first = finished_run(portal, tcga, registry, n=5)
    second = finished_run(portal, tcga, registry, n=3, role="clinician")
    spec = notebook_catalog.get(portal.caches.notebook_catalog, "model_evaluation")
    notebook_runs.queue(portal, spec, {"model": MODEL}, user_of(portal, "analyst").id, "analyst")
    key = api_keys.create_key(portal.db, user_of(portal, "researcher").id, "monitoring")[1]
    held_out = tcga.X.loc[registry.resolve(MODEL).test_ids[:4]]
    samples = [{"id": sample_id, "features": {k: float(v) for k, v in values.items()}}
               for sample_id, values in held_out.iterrows()]
    answer = app.server.test_client().post(f"/api/v1/models/{MODEL}/predict",
                                           json={"samples": samples, "data_use": DATA_USE}, headers=auth(key))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]

    found = activity.activity(portal.db, days=7)
    assert found.bucket == activity.DAY
    expected: dict[str, int] = {}
    for run in (first, second):
        for name, n in run.summary["predicted"].items():
            expected[name] = expected.get(name, 0) + n
    per_class: dict[str, int] = {}
    for c in found.runs:
        assert c.model == f"{MODEL}:1" and c.bucket == activity.bucket_start(first.finished_at, activity.DAY)
        per_class[c.what] = per_class.get(c.what, 0) + c.samples
    assert per_class == expected and sum(per_class.values()) == 8
    assert [(c.model, c.what, c.samples) for c in found.api] == [(f"{MODEL}:1", "", 4)]
    assert found.jobs.prediction_runs["done"] == 2 and sum(found.jobs.prediction_runs.values()) == 2
    assert found.jobs.notebook_runs["queued"] == 1 and sum(found.jobs.notebook_runs.values()) == 1
    hourly = activity.activity(portal.db, days=1)
    assert hourly.bucket == activity.HOUR and sum(c.samples for c in hourly.runs) == 8
    later = activity.activity(portal.db, days=1, now=datetime.now(timezone.utc) + timedelta(days=3))
    assert later.runs == [] and later.api == [] and sum(later.jobs.prediction_runs.values()) == 0


@SQLITE_ONLY
def test_drift_of_held_out_samples_is_small_and_of_a_shifted_copy_is_not(app, tcga, registry, client_for):
    portal, admin = app.server.extensions["cancer_alpha"], client_for("admin")
    version = registry.resolve(MODEL)
    assert drift.model_drift(portal, version).verdict is None  # nothing uploaded yet: said, not made up
    held_out = held_out_frame(tcga, registry, labels=False)
    _upload(app, held_out, "held-out.csv")
    calm = drift.model_drift(portal, version)
    assert calm.samples == len(held_out) and calm.uploads == 1 and not calm.capped
    assert calm.features == len(version_schema(registry)) and calm.tested_features == calm.features
    assert calm.verdict in (engine_drift.NO_DRIFT, engine_drift.SOME_DRIFT) and calm.share < 0.05, calm
    calm_banner = _drift_callback(admin, 7)["monitoring-banner"]["children"]
    assert (calm_banner is None) == (calm.verdict == engine_drift.NO_DRIFT)

    shifted, names = _shifted(tcga, registry)
    _upload(app, shifted, "shifted.csv")
    newest_only = drift.model_drift(portal, version, max_samples=len(shifted))
    assert newest_only.samples == len(shifted) and newest_only.uploads == 1 and newest_only.capped
    assert newest_only.verdict != engine_drift.NO_DRIFT and newest_only.drifted_features >= SHIFTED // 2
    drifted_top = [row["feature"] for row in newest_only.top if row["drifted"]]
    assert drifted_top and set(drifted_top) <= set(names)
    assert all(row["psi"] >= engine_drift.PSI_MODERATE and row["p_adjusted"] < engine_drift.ALPHA
               for row in newest_only.top if row["drifted"])

    both = drift.model_drift(portal, version)  # the default cap holds both uploads
    assert both.samples == 2 * len(held_out) and both.uploads == 2 and both.verdict != engine_drift.NO_DRIFT
    reports = drift.all_drift(portal)
    assert {r.ref for r in reports} == {f"{MODEL}:1", "tissue-of-origin:1"}
    assert drift.worst(reports) == both.verdict
    banner = _drift_callback(admin, 7)["monitoring-banner"]["children"]
    assert banner["props"]["id"] == "monitoring-drift-banner" and banner["props"]["color"] == "warning"
    words = str(banner["props"]["children"])
    assert f"{MODEL}:1 ({both.verdict}: {both.drifted_features} of 298 features)" in words
    assert "tissue-of-origin" not in words  # no uploads: nothing crossed

    with app.server.test_request_context():  # every upload purged
        purge.purge(portal, days=0, now=datetime.now(timezone.utc) + timedelta(minutes=1))
    gone = drift.model_drift(portal, version)
    assert gone.verdict is None and gone.samples == 0 and "no valid uploads" in gone.note


def _drift_callback(client, days) -> dict:
    """The drift section's callback as the browser posts it: its outputs by id."""
    answer = client.post("/_dash-update-component", json={
        "output": "..monitoring-drift.children...monitoring-banner.children..",
        "outputs": [{"id": "monitoring-drift", "property": "children"},
                    {"id": "monitoring-banner", "property": "children"}],
        "inputs": [{"id": "monitoring-days", "property": "value", "value": days},
                   {"id": "monitoring-refresh", "property": "n_clicks", "value": None}],
        "changedPropIds": ["monitoring-days.value"]})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.json["response"]


def version_schema(registry):
    return registry.load(registry.resolve(MODEL)).schema.names


@SQLITE_ONLY
def test_drift_is_computed_once_for_the_page_and_every_scrape(app, portal, tcga, registry):
    version = registry.resolve(MODEL)
    shifted, _ = _shifted(tcga, registry)
    _upload(app, shifted, "shifted.csv")
    first = drift.model_drift(portal, version)
    assert drift.model_drift(portal, version) is first  # the cached report, not a new computation
    client = app.server.test_client()
    for _ in range(3):  # scrapes come every 15 s: each reads the cache
        text = client.get("/metrics").get_data(as_text=True)
    share = re.search(rf'cancer_alpha_drift_share\{{model="{MODEL}",version="1"\}} ([0-9.e-]+)', text)
    assert share and float(share.group(1)) == pytest.approx(first.share)
    assert f'cancer_alpha_drift_features{{model="{MODEL}",verdict="{first.verdict}",version="1"}} ' \
           f'{float(first.drifted_features)}' in text
    assert 'cancer_alpha_drift_share{model="tissue-of-origin"' not in text  # no uploads: no sample, not a 0
    assert drift.model_drift(portal, version) is first and first.computed_at == drift.model_drift(portal, version).computed_at
    _upload(app, shifted.head(20), "more.csv")  # a new upload: computed again
    assert drift.model_drift(portal, version) is not first
    assert next(iter(DriftCollector(portal).collect())).name == "cancer_alpha_drift_share"


@SQLITE_ONLY
def test_only_admins_open_the_page_and_its_callbacks_answer_them(app, client_for):
    portal = app.server.extensions["cancer_alpha"]
    for role in ROLES:
        text = render_page(app, portal, role, "/monitoring")
        assert ("page-not-allowed" in text) == (role != "admin"), role
    admin = client_for("admin")
    body = {"output": "monitoring-activity.children",
            "outputs": {"id": "monitoring-activity", "property": "children"},
            "inputs": [{"id": "monitoring-days", "property": "value", "value": 7},
                       {"id": "monitoring-refresh", "property": "n_clicks", "value": None}],
            "changedPropIds": ["monitoring-days.value"]}
    answer = admin.post("/_dash-update-component", json=body)
    assert answer.status_code == 200 and "monitoring-jobs" in answer.get_data(as_text=True)
    forged = {**body, "inputs": [{**body["inputs"][0], "value": 100000}, body["inputs"][1]]}
    refused = admin.post("/_dash-update-component", json=forged)
    assert refused.status_code == 400 and "choose a number of days" in refused.get_data(as_text=True)
    for role in ("clinician", "researcher", "analyst"):
        assert client_for(role).post("/_dash-update-component", json=body).status_code == 403
    traffic = {"output": "monitoring-traffic.children",
               "outputs": {"id": "monitoring-traffic", "property": "children"},
               "inputs": [{"id": "monitoring-window", "property": "value", "value": "1h"},
                          {"id": "monitoring-refresh", "property": "n_clicks", "value": None}],
               "changedPropIds": ["monitoring-window.value"]}
    text = admin.post("/_dash-update-component", json=traffic).get_data(as_text=True)
    assert "CANCER_ALPHA_PROMETHEUS_URL" in text and "Traceback" not in text  # not configured here
