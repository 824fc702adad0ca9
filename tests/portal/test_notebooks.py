"""Notebook runs through the portal's runner (queue, checks, papermill, records, files, visibility) and
the `python -m portal notebooks` commands, on the session's small real models (trained with seed 7).
Parameter checks run on SQLite and PostgreSQL; notebook executions (seconds each) on SQLite only."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import flask
import pytest
from sqlalchemy import func, insert, select

from engine.caching import BoundedCache
from portal.core.models import AuditEvent, NotebookRun, new_id
from portal.core.states import RunStatus
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import inputs as notebook_inputs
from portal.notebooks import runs as notebook_runs
from portal.notebooks.catalog import ParameterError
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, cohort_csv, email_of
from tests.helpers import user_of as user

ROOT = Path(__file__).resolve().parents[2]
TRAINING_SEED = 7  # tests/conftest.py trains the session's models with this seed
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def portal(app, monkeypatch):
    # a run points this process's engine at the portal's registry (for its kernel): restore it after
    for name in ("CANCER_ALPHA_MODELS_DIR", "CANCER_ALPHA_DATA_DIR", "PYTHONPATH"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    with app.server.app_context():
        yield app.server.extensions["cancer_alpha"]


def _spec(portal, name: str):
    return notebook_catalog.get(portal.caches.notebook_catalog, name)


def _count_runs(portal) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(NotebookRun))


def _actions(portal) -> list[str]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("notebook.%"))))


def test_the_catalog_lists_every_notebook_with_typed_parameters():
    catalog = notebook_catalog.catalog(BoundedCache(1))
    assert set(catalog) == {"model_evaluation", "cohort_report", "drift_report", "train_model"}
    evaluation = catalog["model_evaluation"]
    assert evaluation.title == "Model evaluation" and evaluation.description
    assert [(p.name, p.type, p.default) for p in evaluation.parameters] == [
        ("model", "str", "tissue-of-origin"), ("version", "str", "production"), ("seed", "int", -1)]
    assert "-1: the version's own seed" in evaluation.parameter("seed").help
    assert all(p.help for spec in catalog.values() for p in spec.parameters)
    assert catalog["cohort_report"].takes_input_file and not catalog["train_model"].takes_input_file


@pytest.mark.parametrize("notebook, given, message", [
    ("model_evaluation", {"seed": "forty-two"}, "seed must be a whole number"),
    ("model_evaluation", {"colour": "red"}, "unknown parameter 'colour'"),
    ("model_evaluation", {"model": "no-such-model"}, "unknown model 'no-such-model'"),
    ("model_evaluation", {"model": MODEL, "version": "9"}, "unknown version '9'"),
    ("model_evaluation", {"model": MODEL, "version": "nightly"}, "unknown version 'nightly'"),
    ("train_model", {"dataset": "imaginary"}, "unknown dataset 'imaginary'"),
    ("train_model", {"algorithm": "magic"}, "unknown algorithm 'magic'"),
    ("train_model", {"cv_folds": 1}, "cv_folds must be at least 2"),
    ("cohort_report", {"model": MODEL, "input_file": "/etc/passwd"}, "not a path"),
    ("cohort_report", {"model": MODEL}, "choose one of your finished prediction runs or a model's held-out split"),
    ("drift_report", {"model": MODEL, "top_n": 0}, "top_n must be at least 1"),
])
def test_bad_parameters_are_refused_before_any_run(portal, notebook, given, message):
    spec = _spec(portal, notebook)
    analyst = user(portal, "analyst")
    with pytest.raises(ParameterError, match=re.escape(message)):
        notebook_runs.queue(portal, spec, given, analyst.id, "analyst")
    assert _count_runs(portal) == 0


@SQLITE_ONLY
def test_a_run_keeps_its_notebook_report_and_record(portal, registry, client_for):
    analyst = user(portal, "analyst")
    spec = _spec(portal, "model_evaluation")
    run = notebook_runs.queue(portal, spec, {"model": MODEL}, analyst.id, "analyst")  # seed -1: the version's
    cells = []
    assert notebook_runs.execute(portal, run.id, lambda done, total: cells.append((done, total))) == RunStatus.DONE
    total = cells[-1][1]
    assert [done for done, _ in cells] == list(range(1, total + 1)) and total > 5

    run = notebook_runs.get_run(portal, run.id, analyst.id, "analyst")
    version = registry.resolve(MODEL)
    assert run.parameters == {"model": MODEL, "version": "production", "seed": -1}
    assert notebook_runs.summary_of(run)["seed"] == TRAINING_SEED
    assert (run.model_name, run.model_version, run.artifact_sha256) == (MODEL, version.version, version.sha256)
    assert run.data_checksum.startswith("sha256:") and run.error is None and run.duration_seconds > 0
    assert run.started_at <= run.finished_at and run.package_versions["scikit-learn"]
    report = Path(run.html_path).read_text()
    assert "reports.held_out(selected, seed)" not in report  # the report hides the code; the .ipynb keeps it
    assert "reports.held_out(selected, seed)" in Path(run.output_path).read_text()
    assert "plotly-graph-div" in report and not re.search(r'<script[^>]+src="https?://', report)
    assert Path(run.output_path).parent == portal.settings.notebook_runs_dir / run.id
    assert _actions(portal) == ["notebook.queue", "notebook.run"]
    assert notebook_runs.execute(portal, run.id) == RunStatus.DONE  # a finished run never starts again

    # any role that may read notebook runs opens the report, under a policy that allows no remote source
    clinician = client_for("clinician")
    shown = _get(clinician, f"/notebook-runs/{run.id}/report")
    assert shown.status_code == 200 and shown.mimetype == "text/html"
    policy = shown.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox allow-scripts" in policy and "http" not in policy
    notebook = _get(clinician, f"/notebook-runs/{run.id}/download/ipynb")
    assert notebook.status_code == 200 and "attachment" in notebook.headers["Content-Disposition"]
    page = _get(clinician, f"/notebooks/runs/{run.id}")
    assert page.status_code == 200
    stamped = json.loads(notebook.data)["metadata"]["cancer_alpha_run"]
    assert stamped["run"] == run.id and stamped["status"] == "done" and stamped["summary"]["metrics_match"]
    assert _get(clinician, f"/notebook-runs/{run.id}/download/pdf").status_code == 404
    assert _get(clinician, "/notebook-runs/nope/report").status_code == 404
    signed_out = _get(flask.current_app.test_client(), f"/notebook-runs/{run.id}/report")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]


def _get(client, url: str):
    """A GET from the test client. Requests inside the fixture's app context share its `g`, where
    Flask-Login keeps the user it loaded: forget it so each request finds its own from its cookie."""
    flask.g.pop("_login_user", None)
    return client.get(url)


@SQLITE_ONLY
def test_a_failing_notebook_ends_as_failed_and_keeps_what_it_wrote(portal):
    analyst = user(portal, "analyst")
    spec = _spec(portal, "model_evaluation")
    # the checks pass (a seed is a whole number), the notebook refuses it: not the training seed
    run = notebook_runs.queue(portal, spec, {"model": MODEL, "seed": TRAINING_SEED + 1}, analyst.id, "analyst")
    assert notebook_runs.execute(portal, run.id) == RunStatus.FAILED
    run = notebook_runs.get_run(portal, run.id, analyst.id, "analyst")
    assert re.match(r"cell \d+ \(In \[\d+\]\): ValueError: .*seed", run.error), run.error
    assert Path(run.output_path).is_file() and Path(run.html_path).is_file()
    assert "ValueError" in Path(run.html_path).read_text()


@SQLITE_ONLY
def test_a_report_on_a_prediction_run_is_private_to_its_owner(portal, tcga, registry):
    researcher, analyst, admin = (user(portal, r) for r in ("researcher", "analyst", "admin"))
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=30), MODEL,
                              data_use=DATA_USE).upload
    prediction = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    spec = _spec(portal, "cohort_report")
    with pytest.raises(runs.RunError) as unfinished:
        notebook_runs.queue(portal, spec, {"model": MODEL}, researcher.id, "researcher", input_run=prediction.id)
    assert unfinished.value.status == 409
    runs.execute_run(portal, prediction.id)
    with pytest.raises(runs.RunError) as not_theirs:
        notebook_runs.queue(portal, spec, {"model": MODEL}, analyst.id, "analyst", input_run=prediction.id)
    assert not_theirs.value.status == 403

    with pytest.raises(ParameterError, match=f"holds samples for {MODEL}"):
        notebook_runs.queue(portal, spec, {"model": "tissue-of-origin"}, researcher.id, "researcher",
                            input_run=prediction.id)
    run = notebook_runs.queue(portal, spec, {"model": MODEL, "top_k": 5}, researcher.id, "researcher",
                              input_run=prediction.id)
    assert notebook_runs.execute(portal, run.id) == RunStatus.DONE
    run = notebook_runs.get_run(portal, run.id, researcher.id, "researcher")
    assert run.parameters["input_run"] == prediction.id and run.data_checksum.startswith("sha256:")
    assert not (notebook_runs.run_folder(portal, run.id) / notebook_runs.INPUT_COPY).exists()  # decrypted copy gone
    assert "30" in Path(run.html_path).read_text()
    with pytest.raises(runs.RunError) as private:
        notebook_runs.get_run(portal, run.id, analyst.id, "analyst")
    assert private.value.status == 403
    assert notebook_runs.get_run(portal, run.id, admin.id, "admin").id == run.id
    assert run.id not in [r.id for r in notebook_runs.list_runs(portal, analyst.id, "analyst")]
    assert [r.id for r in notebook_runs.list_runs(portal, admin.id, "admin", notebook="cohort_report")] == [run.id]


def test_a_cancelled_run_does_not_start(portal):
    analyst = user(portal, "analyst")
    run = notebook_runs.queue(portal, _spec(portal, "model_evaluation"), {"model": MODEL}, analyst.id,
                              "analyst")
    with pytest.raises(runs.RunError) as other:
        notebook_runs.cancel(portal, run.id, user(portal, "researcher").id, "researcher")
    assert other.value.status == 403
    notebook_runs.cancel(portal, run.id, analyst.id, "analyst")
    assert notebook_runs.execute(portal, run.id) == RunStatus.CANCELLED
    assert [r.status for r in notebook_runs.list_runs(portal, analyst.id, "analyst", status="cancelled")] == ["cancelled"]


def _cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(settings.var_dir), "CANCER_ALPHA_DATABASE_URL":
           settings.database_url, "CANCER_ALPHA_MODELS_DIR": str(settings.models_dir),
           "CANCER_ALPHA_SECRET_KEY": settings.secret_key}
    return subprocess.run([sys.executable, "-m", "portal", "notebooks", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@SQLITE_ONLY
def test_the_command_line_runs_and_records_notebooks(portal):
    listed = _cli(portal.settings, "list")
    assert listed.returncode == 0
    for name in ("model_evaluation", "cohort_report", "drift_report", "train_model"):
        assert f"{name}:" in listed.stdout
    refused = _cli(portal.settings, "run", "model_evaluation", "-p", "seed", "x")
    assert refused.returncode == 2 and "seed must be a whole number" in refused.stderr
    assert _count_runs(portal) == 0

    done = _cli(portal.settings, "run", "model_evaluation", "-p", "model", MODEL, "-p", "seed", str(TRAINING_SEED),
                "--user", email_of("analyst"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^done in [\d.]+ s$", done.stdout, re.MULTILINE) and "cell 1 of" in done.stdout
    with portal.db.session() as session:
        run = session.scalars(select(NotebookRun)).one()
    assert run.status == "done" and run.user_id == user(portal, "analyst").id
    failed = _cli(portal.settings, "run", "model_evaluation", "-p", "model", MODEL, "-p", "seed", "8")
    assert failed.returncode == 1 and "error: cell" in failed.stdout


def test_a_run_page_follows_its_run_until_it_ends(portal, client_for):
    analyst = user(portal, "analyst")
    run = notebook_runs.queue(portal, _spec(portal, "model_evaluation"), {"model": MODEL}, analyst.id,
                              "analyst")
    client = client_for("clinician")
    output = "..notebook-run-content.children...notebook-run-poll.disabled.."
    payload = {"output": output,
               "outputs": [{"id": "notebook-run-content", "property": "children"},
                           {"id": "notebook-run-poll", "property": "disabled"}],
               "inputs": [{"id": "notebook-run-poll", "property": "n_intervals", "value": 1}],
               "state": [{"id": "notebook-run-id", "property": "data", "value": run.id}],
               "changedPropIds": ["notebook-run-poll.n_intervals"]}
    flask.g.pop("_login_user", None)
    going = client.post("/_dash-update-component", json=payload)
    assert going.status_code == 200, going.get_data(as_text=True)
    assert "This run is queued" in going.get_data(as_text=True)
    assert going.json["response"]["notebook-run-poll"]["disabled"] is False
    notebook_runs.cancel(portal, run.id, analyst.id, "analyst")
    flask.g.pop("_login_user", None)
    ended = client.post("/_dash-update-component", json=payload)
    assert "This run is cancelled" in ended.get_data(as_text=True)
    assert ended.json["response"]["notebook-run-poll"]["disabled"] is True


def _insert_runs(portal, user_id: int, parameters: list[dict], newest) -> list[str]:
    """Notebook runs of `user_id` written straight into the table (no notebook runs): one per parameter
    set, the first the newest, each a minute before the one above it."""
    rows = [{"id": new_id(), "user_id": user_id, "notebook": "cohort_report", "parameters": given,
             "status": RunStatus.DONE, "package_versions": {}, "created_at": newest - timedelta(minutes=i)}
            for i, given in enumerate(parameters)]
    with portal.db.engine.begin() as connection:
        connection.execute(insert(NotebookRun), rows)
    return [row["id"] for row in rows]


def test_the_newest_runs_shown_are_the_ones_the_user_may_see(portal):
    researcher, analyst, admin = (user(portal, r) for r in ("researcher", "analyst", "admin"))
    now = datetime.now(timezone.utc)
    # the researcher's five newest runs read samples (private), the two before them did not
    private = _insert_runs(portal, researcher.id, [
        {"input_run": "r1", "input_file": ""}, {"input_file": "/data/x.csv"}, {"input_run": "r2"},
        {"input_run": "r3", "input_file": "/d/y"}, {"input_run": "r4", "input_file": None}], now)
    public = _insert_runs(portal, researcher.id, [{"model": MODEL, "input_file": ""}, {"model": MODEL}],
                          now - timedelta(hours=1))
    seen = [r.id for r in notebook_runs.list_runs(portal, analyst.id, "analyst", limit=3)]
    assert seen == public  # not the three newest (private) runs filtered down to nothing
    assert [r.id for r in notebook_runs.list_runs(portal, researcher.id, "researcher", limit=3)] == private[:3]
    assert [r.id for r in notebook_runs.list_runs(portal, admin.id, "admin", limit=6)] == private + public[:1]
    assert [r.id for r in notebook_runs.list_runs(portal, analyst.id, "analyst", owner=researcher.id)] == public
    own = _insert_runs(portal, analyst.id, [{"input_run": "r5"}], now + timedelta(minutes=1))
    assert [r.id for r in notebook_runs.list_runs(portal, analyst.id, "analyst", limit=2)] == own + public[:1]
    # the query and the check of one run (can_view, for get_run) agree on every run
    every = notebook_runs.list_runs(portal, admin.id, "admin")
    for role, who in (("analyst", analyst), ("researcher", researcher)):
        assert ([r.id for r in every if notebook_runs.can_view(r, who.id, role)] ==
                [r.id for r in notebook_runs.list_runs(portal, who.id, role)])


# ---------------------------------------------------------------------------------------------
# Held-out splits as inputs: what analysts (who cannot upload) run cohort and drift reports on


@SQLITE_ONLY
def test_an_analyst_runs_cohort_and_drift_reports_on_a_held_out_split(portal, registry, client_for):
    analyst, clinician = user(portal, "analyst"), user(portal, "clinician")
    version = registry.resolve(MODEL)
    choices = notebook_inputs.choices(portal, analyst.id, "analyst")
    assert [c.value for c in choices] == [notebook_inputs.split_value(n, v.version)
                                          for n in registry.models() for v in reversed(registry.versions(n))]
    assert any(c.label == f"held-out split of {MODEL} v{version.version} · {len(version.test_ids):,} samples with "
                          f"known classes" for c in choices)
    summaries = {}
    for notebook in ("cohort_report", "drift_report"):
        run = notebook_runs.queue(portal, _spec(portal, notebook), {"model": MODEL}, analyst.id, "analyst",
                                  input_split=f"{MODEL}:{version.version}")
        assert run.parameters["input_split"] == f"{MODEL}:{version.version}" and not notebook_runs.is_private(run)
        assert "input_file" not in notebook_runs.shown_parameters(run)
        assert notebook_runs.execute(portal, run.id) == RunStatus.DONE, notebook_runs.get_run(
            portal, run.id, analyst.id, "analyst").error
        run = notebook_runs.get_run(portal, run.id, clinician.id, "clinician")  # not private: others read it
        assert not (notebook_runs.run_folder(portal, run.id) / notebook_runs.INPUT_COPY).exists()
        assert (run.model_name, run.model_version) == (MODEL, version.version)
        assert run.id in [r.id for r in notebook_runs.list_runs(portal, clinician.id, "clinician")]
        summaries[notebook] = notebook_runs.summary_of(run)
    cohort, drift = summaries["cohort_report"], summaries["drift_report"]
    with portal.db.session() as session:  # each run's read of the split is audited as the analyst's input
        reads = session.execute(select(AuditEvent.actor, AuditEvent.user_id, AuditEvent.target)
                                .where(AuditEvent.action == "notebook.input.split")).all()
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "download.example")) == 0
    assert reads == [(analyst.email, analyst.id, version.ref)] * 2
    assert cohort["samples"] == len(version.test_ids) and cohort["label_accuracy"] > 0.9
    assert drift["samples"] == len(version.test_ids) and drift["verdict"] in ("no drift", "some drift")
    # the same data gives the same checksum: both notebooks read the one held-out split
    assert cohort["data_checksum"] == drift["data_checksum"]


def test_a_held_out_split_is_named_by_model_and_version(portal, registry):
    analyst = user(portal, "analyst")
    spec = _spec(portal, "drift_report")
    number = registry.resolve(MODEL).version
    run = notebook_runs.queue(portal, spec, {}, analyst.id, "analyst", input_split=MODEL)  # the run's model
    assert (run.parameters["model"], run.parameters["input_split"]) == (MODEL, f"{MODEL}:{number}")
    assert run.model_name == MODEL


@pytest.mark.parametrize("given, split, message", [
    ({}, "no-such-model:1", "input_split 'no-such-model:1': unknown model 'no-such-model'"),
    ({}, f"{MODEL}:9", f"input_split '{MODEL}:9': unknown version '9' of model '{MODEL}'"),
    ({}, f"{MODEL}:nightly", "unknown version 'nightly'"),
    ({}, "", "choose one of your finished prediction runs or a model's held-out split"),
    ({"model": "tissue-of-origin"}, MODEL, f"holds samples for {MODEL}; choose that model"),
])
def test_a_bad_held_out_split_is_refused_with_a_clear_message(portal, given, split, message):
    analyst = user(portal, "analyst")
    with pytest.raises(ParameterError, match=re.escape(message)):
        notebook_runs.queue(portal, _spec(portal, "cohort_report"), given, analyst.id, "analyst",
                            input_split=split or None)
    with pytest.raises(ParameterError, match="reads no file of samples"):
        notebook_runs.queue(portal, _spec(portal, "model_evaluation"), {}, analyst.id, "analyst", input_split=MODEL)
    assert _count_runs(portal) == 0


@pytest.mark.parametrize("value, status, message", [
    (f"split:{MODEL}:9", 200, "unknown version '9'"),
    ("split:", 200, "choose one of your finished prediction runs"),
    (["forged"], 200, "is neither a prediction run nor a held-out split"),
    ("0" * 32, 200, "no prediction run"),
])
def test_a_forged_input_in_the_form_gets_a_message_never_a_500(portal, client_for, value, status, message):
    client = client_for("analyst")
    fields = [({"type": "nb-param", "name": "input_file", "role": "input"}, value),
              ({"type": "nb-param", "name": "model", "role": "model"}, MODEL),
              ({"type": "nb-param", "name": "version", "role": "version"}, "production"),
              ({"type": "nb-param", "name": "top_k", "role": "plain"}, 5)]
    payload = {"output": "..notebooks-queued.data...notebooks-message.children..",
               "outputs": [{"id": "notebooks-queued", "property": "data"},
                           {"id": "notebooks-message", "property": "children"}],
               "inputs": [{"id": "notebooks-run", "property": "n_clicks", "value": 1}],
               "state": [{"id": "notebooks-choice", "property": "value", "value": "cohort_report"},
                         [{"id": id_, "property": "value", "value": v} for id_, v in fields]],
               "changedPropIds": ["notebooks-run.n_clicks"]}
    flask.g.pop("_login_user", None)
    answer = client.post("/_dash-update-component", json=payload)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert message in answer.get_data(as_text=True) and "notebooks-parameter-error" in answer.get_data(as_text=True)
    assert _count_runs(portal) == 0


def test_the_input_list_offers_readable_runs_then_held_out_splits(portal, tcga, registry):
    researcher, admin = user(portal, "researcher"), user(portal, "admin")
    upload = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=12), MODEL,
                              data_use=DATA_USE).upload
    prediction = runs.queue_run(portal, upload.id, researcher.id, "researcher")
    assert [c.value for c in notebook_inputs.choices(portal, researcher.id, "researcher")][:1] != [prediction.id]
    runs.execute_run(portal, prediction.id)
    assert [r.id for r in runs.readable_finished_runs(portal, researcher.id, "researcher")] == [prediction.id]
    assert runs.readable_finished_runs(portal, admin.id, "admin")[0].id == prediction.id
    assert runs.readable_finished_runs(portal, user(portal, "analyst").id, "analyst") == []
    own = notebook_inputs.choices(portal, researcher.id, "researcher")
    assert own[0].value == prediction.id and own[0].model == MODEL
    assert own[0].label.startswith(f"cohort.csv · {MODEL} v{prediction.model_version} · 12 samples")
    assert "by " not in own[0].label and own[1].value.startswith("split:")
    shown = notebook_inputs.choices(portal, admin.id, "admin")[0]
    assert shown.value == prediction.id and shown.label.endswith(f"by {email_of('researcher')}")
    # a rerun of a run that read a split fills the form's input with the split again
    assert notebook_inputs.choice_of({"input_split": f"{MODEL}:1"}) == f"split:{MODEL}:1"
    assert notebook_inputs.parse_choice(f"split:{MODEL}:1") == (None, f"{MODEL}:1")
    assert notebook_inputs.parse_choice(prediction.id) == (prediction.id, None)
    from components import notebook_form
    assert notebook_form.SPLIT_PREFIX == notebook_inputs.SPLIT_PREFIX


@SQLITE_ONLY
def test_the_command_line_reads_a_held_out_split(portal):
    refused = _cli(portal.settings, "run", "cohort_report", "--input-split", "no-such-model")
    assert refused.returncode == 2 and "unknown model 'no-such-model'" in refused.stderr
    refused = _cli(portal.settings, "run", "cohort_report", "--input-split", f"{MODEL}:9")
    assert refused.returncode == 2 and f"unknown version '9' of model '{MODEL}'" in refused.stderr
    assert _count_runs(portal) == 0


# ---------------------------------------------------------------------------------------------
# The verdict on a run's page, the seed that follows the version, progress inside a cell


def test_a_run_page_opens_with_its_verdict(portal, registry, monkeypatch):
    import dash

    # the module as the app loaded it (importing pages.notebook_run again would register its page twice)
    notebook_run = sys.modules[next(name for name in dash.page_registry if name.endswith("notebook_run"))]
    analyst = user(portal, "analyst")
    run = notebook_runs.queue(portal, _spec(portal, "drift_report"), {}, analyst.id, "analyst", input_split=MODEL)
    summary = {"model": MODEL, "version": 1, "sha256": "a" * 64, "data_checksum": "sha256:" + "b" * 64,
               "verdict": "no drift", "drifted_features": 0, "features": 298, "samples": 40, "reference_samples": 90}
    monkeypatch.setattr(notebook_runs, "summary_of", lambda r: summary if r.id == run.id else {})
    run.status = RunStatus.DONE
    monkeypatch.setattr(notebook_run, "current_user", types.SimpleNamespace(id=analyst.id, role="analyst"))
    view = notebook_run._view(run)
    text = str(view)
    assert "notebook-run-verdict" in text and "Drift verdict: no drift." in text
    assert "0 of 298 features drift" in text


def test_the_seed_field_follows_the_chosen_version(portal, client_for, registry):
    from components.notebook_form import Choices, notebook_form

    spec = _spec(portal, "model_evaluation")
    choices = Choices(models=[MODEL], versions={MODEL: [{"label": "production", "value": "production"}]},
                      datasets=[], algorithms=[], input_runs=[], seeds={MODEL: {"production": TRAINING_SEED}})
    form = str(notebook_form(spec, choices, {"model": MODEL, "version": "production"}))
    assert f"value={TRAINING_SEED}" in form.replace(" ", "") or f"'value': {TRAINING_SEED}" in form
    assert "filled with the chosen version's training seed" in form
    client = client_for("analyst")
    seed_id = {"type": "nb-param", "name": "seed", "role": "plain"}
    payload = {"output": '{"name":"seed","role":["ALL"],"type":"nb-param"}.value',
               "outputs": [{"id": seed_id, "property": "value"}],
               "inputs": [[{"id": {"type": "nb-param", "name": "model", "role": "model"}, "property": "value",
                            "value": MODEL}],
                          [{"id": {"type": "nb-param", "name": "version", "role": "version"}, "property": "value",
                            "value": "1"}]],
               "state": [[{"id": seed_id, "property": "value", "value": -1}]],
               "changedPropIds": ['{"name":"version","role":"version","type":"nb-param"}.value']}
    flask.g.pop("_login_user", None)
    answer = client.post("/_dash-update-component", json=payload)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert json.dumps(TRAINING_SEED) in json.dumps(answer.json["response"])
    assert registry.get(MODEL, 1).seed == TRAINING_SEED


def test_a_cell_that_prints_progress_lines_is_followed_inside(portal, tmp_path):
    seen = []
    sink = notebook_runs.ProgressLines(seen.append)
    sink.write("progress: candidate 1 of 2, fold 1 of 3\nother text\nprogress: candid")
    sink.write("ate 1 of 2, fold 2 of 3\n")
    assert seen == ["candidate 1 of 2, fold 1 of 3", "candidate 1 of 2, fold 2 of 3"]

    import nbformat
    import papermill
    from engine import reports

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from engine import reports"),
        nbformat.v4.new_code_cell("import time\nfor fold in (1, 2):\n    reports.training_progress(1, 1, fold, 2)\n"
                                  "    time.sleep(0.3)"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    source = tmp_path / "progress.ipynb"
    nbformat.write(notebook, str(source))
    calls = []
    notebook_runs._point_engine_at(portal)
    papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), engine_name=notebook_runs.ENGINE,
                               kernel_name=notebook_runs.KERNEL, progress_bar=False, cwd=str(tmp_path),
                               on_cell=lambda *args, **kwargs: calls.append((args, kwargs)))
    assert ((2, 2), {"detail": "candidate 1 of 1, fold 1 of 2"}) in calls
    assert ((2, 2), {"detail": "candidate 1 of 1, fold 2 of 2"}) in calls
    assert calls[-1] == ((2, 2), {}) and ((1, 2), {}) in calls
    assert reports.progress_detail("progress: candidate 2 of 4, fold 3 of 5") == "candidate 2 of 4, fold 3 of 5"
    assert reports.progress_detail("candidate 2") is None
