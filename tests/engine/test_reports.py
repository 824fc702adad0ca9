"""The notebooks' shared helpers (engine.reports) on the session's real models and data."""
from __future__ import annotations

import copy
import dataclasses
import json

import nbformat
import pytest

from engine import reports
from engine.predict import predict


def test_resolve_version_by_alias_and_number(registry):
    by_alias = reports.resolve_version("tcga-mirna-type", "production", registry)
    assert by_alias.version == 1 and "production" in by_alias.aliases
    assert reports.resolve_version("tcga-mirna-type", "1", registry).ref == "tcga-mirna-type:1"
    assert reports.resolve_version("tcga-mirna-type", 1, registry).ref == "tcga-mirna-type:1"


@pytest.mark.parametrize("model, version, message", [
    ("no-such-model", "production", "unknown model 'no-such-model'"),
    ("../models", "production", "unknown model '../models'"),
    ("tcga-mirna-type", "9", "unknown version '9' of model 'tcga-mirna-type'"),
    ("tcga-mirna-type", "canary", "unknown version 'canary'.*no alias 'canary'"),
    ("tcga-mirna-type", " ", "version is empty"),
])
def test_resolve_version_refuses_unknown_names(registry, model, version, message):
    with pytest.raises(ValueError, match=message):
        reports.resolve_version(model, version, registry)


def test_require_int():
    assert reports.require_int("seed", 7) == 7 and reports.require_int("seed", "7") == 7
    for bad in (True, 1.5, "seven", None, "²"):  # "²".isdigit() is true
        with pytest.raises(ValueError, match="seed must be a whole number"):
            reports.require_int("seed", bad)
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        reports.require_int("top_k", 0, minimum=1)


def test_input_path(tmp_path):
    with pytest.raises(ValueError, match="input_file is required"):
        reports.input_path("")
    with pytest.raises(ValueError, match="no such file"):
        reports.input_path(str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match="no such file"):
        reports.input_path(str(tmp_path))  # a folder


def test_training_parameters():
    assert reports.training_parameters("tcga-mirna", "logreg", 7, 3, "") == (
        "tcga-mirna", "logreg", 7, 3, "tcga-mirna-type")
    assert reports.training_parameters("gdsc-tissue", "auto", "42", "5", " my-model ")[4] == "my-model"
    for args, message in ((("nope", "logreg", 1, 3, ""), "unknown dataset 'nope'"),
                          (("tcga-mirna", "svm", 1, 3, ""), "unknown algorithm 'svm'"),
                          (("tcga-mirna", "logreg", -1, 3, ""), "seed must be at least 0"),
                          (("tcga-mirna", "logreg", 1, 1, ""), "cv_folds must be at least 2"),
                          (("tcga-mirna", "logreg", 1, 3, "Bad Name"), "model name 'Bad Name'")):
        with pytest.raises(ValueError, match=message):
            reports.training_parameters(*args)


def test_held_out_split_and_metrics_are_reproduced(registry):
    from engine import metrics

    model = registry.load("tcga-mirna-type")
    held = reports.held_out(model.version, seed=model.version.metadata["seed"])
    assert held.ids == model.version.metadata["split"]["test_ids"]
    proba = predict(model, held.X, held.ids).probabilities
    recomputed = metrics.evaluate(held.y, proba, model.bundle.classes, model.version.metadata["abstain"]["threshold"])
    comparison = reports.compare_metrics(recomputed, model.version.metrics)
    assert comparison["match"].all() and len(comparison) > 100
    overview = reports.comparison_overview(comparison)
    assert {"accuracy", "per_class", "roc", "confusion_matrix"} <= set(overview["metric"])
    assert overview["all_match"].all()
    headline = reports.headline_metrics(recomputed)
    assert headline["accuracy"] == model.version.metrics["accuracy"]
    assert "top_3_accuracy" not in headline  # three classes: not reported


def test_held_out_refuses_another_seed_and_another_split(registry):
    version = registry.resolve("tcga-mirna-type")
    with pytest.raises(ValueError, match=r"seed 42 is not the seed .* trained with \(7\)"):
        reports.held_out(version, seed=42)
    altered = copy.deepcopy(version.metadata)
    altered["split"]["test_ids"] = altered["split"]["test_ids"][1:] + ["TCGA.XX.0000.01A"]
    changed = dataclasses.replace(version, metadata=altered)
    with pytest.raises(reports.ReproducibilityError, match="not the stored one"):
        reports.held_out(changed, seed=7)


def test_compare_metrics_finds_every_difference():
    stored = {"accuracy": 0.5, "per_class": {"a": {"f1": 0.25}}, "curve": [0.1, 0.2], "top_3": None}
    recomputed = {"accuracy": 0.5 + 1e-12, "per_class": {"a": {"f1": 0.26}}, "curve": [0.1, 0.2, 0.3],
                  "top_3": None}
    frame = reports.compare_metrics(recomputed, stored).set_index("metric")
    assert frame.loc["accuracy", "match"] and frame.loc["top_3", "match"] and frame.loc["curve[1]", "match"]
    assert not frame.loc["per_class.a.f1", "match"]
    assert frame.loc["per_class.a.f1", "abs_difference"] == pytest.approx(0.01)
    assert not frame.loc["curve[2]", "match"] and frame.loc["curve[2]", "stored"] == "<missing>"


def test_cohort_tables_and_class_explanations(registry, tcga):
    model = registry.load("tcga-mirna-type")
    ids = model.version.metadata["split"]["test_ids"][:40]
    X = tcga.X.loc[ids, model.schema.names].to_numpy(float)
    result = predict(model, X, ids)
    per_class, overview, quantiles = reports.cohort_tables(result)
    assert per_class["samples"].sum() == 40 and overview.loc["samples", "count"] == 40
    confidence = quantiles["confidence"]
    assert confidence["min"] <= confidence["q50"] <= confidence["max"]
    counts = reports.class_counts(result.predicted, result.classes)
    assert list(counts) == result.classes and sum(counts.values()) == 40
    table = reports.class_explanations(model.bundle, model.schema, X, result.predicted, top_k=5, max_per_class=8)
    for name, rows in table.groupby("predicted_class"):
        assert list(rows["rank"]) == [1, 2, 3, 4, 5] and rows["mean_abs_shap"].is_monotonic_decreasing
        assert rows["explained"].iloc[0] == min(8, counts[name]) and rows["samples"].iloc[0] == counts[name]
        assert (rows["mean_abs_shap"] >= rows["mean_shap"].abs() - 1e-12).all()


def test_summary_line_round_trip():
    summary = {"model": "m", "version": 2, "sha256": "ab", "data_checksum": "sha256:cd", "metrics": {"accuracy": 0.5}}
    cell = nbformat.v4.new_code_cell("print(json.dumps(summary))", metadata={"tags": ["summary"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=json.dumps(summary) + "\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert reports.read_summary(notebook) == summary
    cell.outputs = []
    with pytest.raises(ValueError, match="printed 0 lines"):
        reports.read_summary(notebook)
    for bad, message in (({**summary, "version": "2"}, "version must be an int"),
                         ({k: v for k, v in summary.items() if k != "sha256"}, "lacks sha256"),
                         ({**summary, "metrics": {"x": float("nan")}}, "Out of range float")):
        with pytest.raises(ValueError, match=message):
            reports.check_summary(bad)


def test_file_checksum(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"abc")
    assert reports.file_checksum(path) == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
