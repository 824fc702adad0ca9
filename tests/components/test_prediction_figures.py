"""Figures of a batch of predictions, built from real predictions and explanations of the session's
models (trained on real data) on their real held-out samples. No browser: the figures' data and
layout are checked directly."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from components import prediction_figures as pf
from engine import explain, feature_labels, metrics, projection
from engine.predict import predict
from tests.components.held_out import context_items, explanation_of


def serialised(fig) -> dict:
    """The figure as the browser gets it: valid JSON, without NaN."""
    text = fig.to_json()
    assert "NaN" not in text
    return json.loads(text)


def subtitle(fig) -> str:
    return fig.layout.title.subtitle.text


def lines(fig) -> list:
    return [s for s in fig.layout.shapes if s.type == "line"]


def assert_axis_titles(fig):
    assert fig.layout.title.text and fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


# --- a batch of predictions -------------------------------------------------------------------------

def test_predicted_class_counts(batch):
    r = batch.result
    fig = pf.predicted_class_counts_figure(r.predicted, list(r.abstain), r.classes)
    serialised(fig)
    assert_axis_titles(fig)
    confident, uncertain = fig.data
    assert confident.name == "confident" and uncertain.name == "below the abstain threshold"
    skewed = pf.is_skewed([c + u for c, u in zip(confident.x, uncertain.x)])  # then a log axis, parts side by side
    assert fig.layout.barmode == ("group" if skewed else "stack") and confident.orientation == "h"
    assert fig.layout.xaxis.type == ("log" if skewed else None)
    assert sum(confident.x) + sum(uncertain.x) == len(r.ids)
    assert sum(uncertain.x) == int(r.abstain.sum())
    names = list(confident.y)
    assert set(names) == set(r.predicted)  # classes never predicted are left out
    totals = [c + u for c, u in zip(confident.x, uncertain.x)]
    assert totals == sorted(totals, reverse=True) and min(totals) > 0
    for name, c, u in zip(names, confident.x, uncertain.x):
        rows = [i for i, p in enumerate(r.predicted) if p == name]
        assert (c, u) == (sum(not r.abstain[i] for i in rows), sum(bool(r.abstain[i]) for i in rows))
    assert list(fig.layout.yaxis.categoryarray) == names and fig.layout.yaxis.autorange == "reversed"
    assert f"{len(r.ids):,} samples" in subtitle(fig)
    with pytest.raises(ValueError):
        pf.predicted_class_counts_figure(r.predicted, list(r.abstain)[:-1], r.classes)


def test_confidence_histogram(batch):
    r = batch.result
    threshold = batch.model.version.metadata["abstain"]["threshold"]
    fig = pf.confidence_histogram_figure(list(r.confidence), threshold)
    serialised(fig)
    assert_axis_titles(fig)
    (bars,) = fig.data
    assert len(bars.x) == 20 and np.allclose(bars.width, 0.05)
    assert sum(bars.y) == len(r.ids)
    assert list(bars.y) == np.histogram(r.confidence, bins=np.linspace(0, 1, 21))[0].tolist()
    (line,) = lines(fig)
    assert line.x0 == line.x1 == threshold
    assert any(a.text == f"abstain threshold {threshold:.2f}" for a in fig.layout.annotations)
    assert f"{int((r.confidence < threshold).sum()):,} (" in subtitle(fig)
    assert list(fig.layout.xaxis.range) == [0, 1]


def test_confidence_against_ood_score(batch):
    r = batch.result
    meta = batch.model.version.metadata
    ood_threshold, abstain_threshold = meta["out_of_distribution"]["threshold"], meta["abstain"]["threshold"]
    fig = pf.confidence_ood_figure(r.ids, r.predicted, list(r.confidence), list(r.ood_score),
                                   ood_threshold, abstain_threshold)
    serialised(fig)
    assert_axis_titles(fig)
    assert all(t.type == "scatter" for t in fig.data)  # a few hundred points: SVG
    assert sum(len(t.x) for t in fig.data) == len(r.ids)
    where = {sample: i for i, sample in enumerate(r.ids)}
    for trace in fig.data:
        for x, y, (sample, predicted) in zip(trace.x, trace.y, trace.customdata):
            i = where[sample]
            assert (x, y, predicted) == (r.ood_score[i], r.confidence[i], r.predicted[i])
            low, unusual = y < abstain_threshold, x > ood_threshold
            region = {(False, False): "confident", (True, False): "below", (False, True): "out of",
                      (True, True): "both"}[(bool(low), bool(unusual))]
            assert trace.name.startswith(region)
    vertical = [s for s in lines(fig) if s.x0 == s.x1]
    horizontal = [s for s in lines(fig) if s.y0 == s.y1]
    assert [s.x0 for s in vertical] == [ood_threshold] and [s.y0 for s in horizontal] == [abstain_threshold]


def test_confidence_against_ood_score_shows_the_density_of_many_samples(registry, tcga):
    model = registry.load("tcga-mirna-type")  # every TCGA sample (2,210, real): more than 2,000 points
    ids = tcga.X.index.astype(str).tolist()
    r = predict(model, tcga.X[model.schema.names].to_numpy(float), ids)
    meta = model.version.metadata
    fig = pf.confidence_ood_figure(r.ids, r.predicted, list(r.confidence), list(r.ood_score),
                                   meta["out_of_distribution"]["threshold"], meta["abstain"]["threshold"])
    (density,) = fig.data  # more than MAX_POINTS: one cell grid, no point per sample
    assert len(ids) > pf.MAX_POINTS and density.type == "heatmap"
    assert np.nansum(np.asarray(density.customdata, dtype=float)) == len(ids)  # every sample counted once
    low = np.asarray(r.confidence) < meta["abstain"]["threshold"]
    unusual = np.asarray(r.ood_score) > meta["out_of_distribution"]["threshold"]
    assert "too many to draw one by one" in subtitle(fig) and f"{len(ids):,} samples" in subtitle(fig)
    assert f"below the abstain threshold {int((low & ~unusual).sum()):,}" in subtitle(fig)
    assert f"out of distribution {int((~low & unusual).sum()):,}" in subtitle(fig)
    assert len(fig.to_json()) < 60_000  # a grid of counts, whatever the number of samples (20,000: 1 MB before)
    serialised(fig)


def test_projection_of_held_out_samples(batch):
    proj = projection.projection_for(batch.model)
    xy = proj.transform(batch.X)
    fig = pf.projection_figure(proj.training_coordinates, list(proj.training_labels), xy, batch.ids,
                               batch.result.predicted, proj.explained_variance_ratio)
    serialised(fig)
    uploaded = pf.uploaded_traces(fig)  # one trace a predicted class
    training = pf.training_traces(fig)  # one trace a class
    assert sum(len(t.x) for t in uploaded) == len(batch.ids)
    drawn = {sample: (x, y, t.name.removesuffix(" (uploaded)"))
             for t in uploaded for sample, x, y in zip(t.customdata, t.x, t.y)}
    assert list(drawn) != [] and set(drawn) == set(batch.ids)
    for i, sample in enumerate(batch.ids):
        x, y, predicted = drawn[sample]
        assert np.isclose(x, xy[i, 0]) and np.isclose(y, xy[i, 1]) and predicted == batch.result.predicted[i]
    assert min(t.marker.size for t in uploaded) > max(t.marker.size for t in training)
    assert all(t.marker.line.color == pf.OUTLINE and t.marker.line.width > 0 for t in uploaded)
    assert all(t.marker.opacity < 0.5 for t in training)
    counts = {t.name.removesuffix(" (training)"): len(t.x) for t in training}
    labels = list(proj.training_labels)
    assert counts == {c: labels.count(c) for c in set(labels)}
    assert sum(counts.values()) == len(proj.training_coordinates)
    assert all(t.type == "scatter" for t in training + uploaded)  # the portal's plotly.js has no WebGL
    ratio = proj.explained_variance_ratio
    assert fig.layout.xaxis.title.text == f"PC1 ({ratio[0]:.1%} of variance)"
    assert fig.layout.yaxis.title.text == f"PC2 ({ratio[1]:.1%} of variance)"
    assert "shown" not in subtitle(fig)


def test_projection_draws_at_most_2000_uploaded_samples(registry, tcga):
    model = registry.load("tcga-mirna-type")
    proj = projection.projection_for(model)
    xy = proj.transform(tcga.X[model.schema.names].to_numpy(float))
    ids = tcga.X.index.astype(str).tolist()
    predicted = predict(model, tcga.X[model.schema.names].to_numpy(float), ids).predicted
    # every real TCGA sample three times over (ids marked as copies): an upload larger than the cap
    n = 3 * len(ids)
    fig = pf.projection_figure(proj.training_coordinates, proj.training_labels, np.vstack([xy] * 3),
                               [f"{i} (copy {k})" for k in range(3) for i in ids], predicted * 3)
    uploaded = pf.uploaded_traces(fig)
    assert sum(len(t.x) for t in uploaded) == pf.MAX_UPLOADED_POINTS == 2000
    assert f"First 2,000 of {n:,} uploaded samples shown." in subtitle(fig)
    assert fig.layout.xaxis.title.text == "PC1"  # no explained variance given
    serialised(fig)


# --- one sample's explanation -----------------------------------------------------------------------


def test_shap_waterfall_adds_up_to_the_output(batch):
    e = explanation_of(batch)
    fig = pf.shap_waterfall_figure(e)
    serialised(fig)
    assert_axis_titles(fig)
    (waterfall,) = fig.data
    n_top = len(e["top"])
    assert waterfall.orientation == "h"
    # logistic regression: no separate calibration bar (the temperature is inside the log-odds)
    assert list(waterfall.measure) == ["absolute"] + ["relative"] * (n_top + 1) + ["total"]
    x = list(waterfall.x)
    assert x[0] == e["probability_base"] and x[-1] == e["probability"]
    assert x[1:1 + n_top] == [c["effect"] for c in e["top"]] and x[1 + n_top] == e["rest_effect"]
    # the bars add up to the probability the page states
    assert abs(x[0] + sum(x[1:-1]) - e["probability"]) < 1e-6
    labels = list(waterfall.y)
    assert labels[1].startswith(f"{e['top'][0]['feature']} = ") and labels[-2] == f"other {e['n_rest']:,} features"
    assert labels[-1] == f"probability of {e['class']}"
    assert list(fig.layout.yaxis.categoryarray) == labels and fig.layout.yaxis.autorange == "reversed"
    assert waterfall.increasing.marker.color == pf.PUSHES_TOWARD  # red: toward the class
    assert waterfall.decreasing.marker.color == pf.PUSHES_AWAY
    assert fig.layout.title.text.startswith(f"Why sample {e['sample']} is {e['class']}")
    assert pf._probability(e["probability"]) in subtitle(fig) and "log-odds" in subtitle(fig)


def test_shap_waterfall_of_a_forest_ends_with_the_calibration_step(tree_models):
    """A random forest's SHAP values are its own uncalibrated probability: the temperature scaling is
    a bar of its own, so the bars end at the calibrated probability the page states."""
    result, gdsc = tree_models["random-forest"]
    ids = result.metadata["split"]["test_ids"][:3]
    X = gdsc.X.loc[ids].to_numpy(float)
    stated = result.bundle.predict_proba(X)
    for i in range(len(ids)):
        (e,) = explain.explain(result.bundle, gdsc.schema, X[i:i + 1], ids[i:i + 1], top_k=10)
        e = e.to_dict()
        (waterfall,) = pf.shap_waterfall_figure(e).data
        labels, x = list(waterfall.y), list(waterfall.x)
        assert labels[-2] == "calibration (temperature scaling)" and x[-2] == e["calibration_step"]
        assert x[-1] == e["probability"] == pytest.approx(stated[i].max(), abs=1e-12)
        assert abs(x[0] + sum(x[1:-1]) - stated[i].max()) < 1e-6
        assert x[0] == e["base_value"]  # the forest's average probability: SHAP's own base


def test_shap_waterfall_of_another_class_says_what_it_shows(batches):
    batch = batches["tcga-mirna-type"]
    predicted = explanation_of(batch)["class"]
    other = next(c for c in batch.model.bundle.classes if c != predicted)
    (e,) = explain.explain(batch.model.bundle, batch.model.schema, batch.X[:1], batch.ids[:1], class_name=other)
    fig = pf.shap_waterfall_figure(e.to_dict())
    assert fig.layout.title.text == f"What speaks for and against {other}"
    assert f"Sample {batch.ids[0]} is predicted {predicted}" in subtitle(fig)
    assert "Why sample" not in fig.layout.title.text


def test_shap_waterfall_labels_values_and_missing_ones(batches):
    batch = batches["tcga-mirna-type"]
    first = explanation_of(batch)
    X = batch.X[:1].copy()
    X[0, batch.model.schema.names.index(first["top"][0]["feature"])] = np.nan  # a real sample, one value lost
    # every feature shown: the one with the lost value among them, and no "other features" bar
    e = explanation_of(batch, X=X, top_k=len(batch.model.schema.names))
    assert [c["feature"] for c in e["top"] if c["value"] is None] == [first["top"][0]["feature"]]
    (waterfall,) = pf.shap_waterfall_figure(e).data
    labels = list(waterfall.y)
    assert f"{first['top'][0]['feature']} = missing (imputed)" in labels
    assert e["n_rest"] == 0 and not any(y.startswith("other") for y in labels)
    assert len(labels) == len(e["top"]) + 2 and abs(waterfall.x[0] + sum(waterfall.x[1:-1]) - e["probability"]) < 1e-6
    # every shown feature's label carries the sample's value, compactly
    for c, label in zip(e["top"], labels[1:]):
        if c["value"] is not None:
            assert label == f"{c['feature']} = {pf._compact(c['value'])}"
    assert pf._compact(12345.0) == "12,345" and pf._compact(0.123456) == "0.1235" and pf._compact(1.0) == "1"
    assert pf._probability(0.99999) == "> 99.9%" and pf._probability(0.5) == "50.0%"


def test_group_contributions(batches):
    e = explanation_of(batches["tissue-of-origin"])
    fig = pf.group_contributions_figure(e["group_sums"], e["class"])
    serialised(fig)
    assert_axis_titles(fig)
    (bars,) = fig.data
    assert dict(zip(bars.y, bars.x)) == e["group_sums"]
    assert set(bars.y) == {"mutation", "copy number", "microsatellite instability"}
    assert [abs(v) for v in bars.x] == sorted((abs(v) for v in bars.x), reverse=True)
    assert list(bars.marker.color) == [pf.PUSHES_TOWARD if v >= 0 else pf.PUSHES_AWAY for v in bars.x]
    assert e["class"] in fig.layout.title.text
    total = sum(c["shap"] for c in e["top"]) + e["rest"]
    assert sum(bars.x) == pytest.approx(total, abs=1e-9)


def test_feature_context_for_binary_features(batches):
    batch = batches["tissue-of-origin"]
    e = explanation_of(batch, top_k=6)
    items = context_items(batch, e)
    fig = pf.feature_context_figure(items, e["class"])
    serialised(fig)
    assert fig.layout.title.text == f"The sample's values beside the training samples of {e['class']}"
    assert len(fig.data) == 6 and all(t.type == "bar" for t in fig.data)
    for trace, item in zip(fig.data, items):
        assert list(trace.x) == ["0", "1"] and sum(trace.y) == pytest.approx(1.0)
        assert trace.y[1] == pytest.approx(np.mean(item["training_values"]))
        own = int(item["value"])
        assert trace.marker.line.color[own] == pf.BOTH and trace.marker.line.color[1 - own] != pf.BOTH
    assert fig.layout.yaxis.tickformat == ".0%" and fig.layout.yaxis.title.text == "share of samples"
    # panel titles: the readable label and the sample's value; the raw id is in every panel's hover
    for a, trace, item in zip(fig.layout.annotations[:6], fig.data, items):
        label = feature_labels.feature_label(item["feature"], item["group"])
        assert a.text.replace("<br>", " ").startswith(label.label[:20]) and a.text.endswith(pf._compact(item["value"]))
        assert f"{label.label} · {item['feature']}" in trace.hovertemplate


def test_feature_context_for_continuous_features(batches):
    batch = batches["tcga-mirna-type"]
    e = explanation_of(batch, top_k=20)
    items = context_items(batch, e)
    fig = pf.feature_context_figure(items, e["class"])
    serialised(fig)
    boxes = [t for t in fig.data if t.type == "box"]
    assert len(boxes) == pf.MAX_CONTEXT_PANELS == 12  # 20 features given, 12 panels drawn
    assert "First 12 of 20 features." in subtitle(fig)
    assert [list(b.x) for b in boxes] == [i["training_values"] for i in items[:12]]
    assert [s.x0 for s in lines(fig)] == [i["value"] for i in items[:12]]  # the sample's value, marked
    assert len({b.xaxis for b in boxes}) == 12 and fig.layout.height == 160 + 250 * 4  # 3 per row, 4 rows


# --- agreement with uploaded labels -----------------------------------------------------------------

def test_label_agreement_on_real_predictions(batch):
    r, classes = batch.result, batch.result.classes
    full = metrics.label_agreement(batch.truth, r.predicted, classes)
    stored = batch.model.version.metrics
    assert full["confusion_matrix"] == stored["confusion_matrix"]
    assert full["accuracy"] == pytest.approx(stored["accuracy"], abs=1e-6)
    assert full["balanced_accuracy"] == pytest.approx(stored["balanced_accuracy"], abs=1e-6)
    assert full["n"] == len(r.ids) and full["n_unknown_labels"] == 0 and full["unknown_labels"] == []

    labels = list(batch.truth)
    # made-up labels, not real data: two texts no model knows, a missing label and a padded one
    labels[0], labels[1], labels[2], labels[3] = "made-up-class", "another made-up class", float("nan"), ""
    labels[4] = f"  {labels[4]} "
    a = metrics.label_agreement(labels, r.predicted, classes)
    known = list(range(4, len(labels)))
    truth, predicted = [batch.truth[i] for i in known], [r.predicted[i] for i in known]
    assert a["n"] == len(known) and a["n_unknown_labels"] == 4
    assert a["unknown_labels"] == ["another made-up class", "made-up-class"]
    assert a["accuracy"] == pytest.approx(np.mean(np.array(truth) == np.array(predicted)))
    assert a["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert sum(map(sum, a["confusion_matrix"]["counts"])) == a["n"]
    assert a["confusion_matrix"]["labels"] == classes and set(a["per_class_recall"]) == set(classes)
    for k, c in enumerate(classes):
        row = a["confusion_matrix"]["counts"][k]
        assert a["per_class_recall"][c] == (row[k] / sum(row) if sum(row) else None)
    json.dumps(a)
    with pytest.raises(ValueError):
        metrics.label_agreement(labels[:-1], r.predicted, classes)


def test_label_confusion_figure(batch):
    r = batch.result
    labels = list(batch.truth)
    labels[0] = "made-up-class"  # made up: not one of the model's classes
    agreement = metrics.label_agreement(labels, r.predicted, r.classes)
    fig = pf.label_confusion_figure(agreement)
    serialised(fig)
    (heatmap,) = fig.data
    assert sum(map(sum, heatmap.z)) == agreement["n"]
    assert fig.layout.title.text == "Predicted classes against the uploaded labels"
    assert fig.layout.yaxis.title.text == "Uploaded label" and fig.layout.xaxis.title.text == "Predicted class"
    assert "1 sample with a missing or unknown label is left out" in subtitle(fig)
    assert f"accuracy {agreement['accuracy']:.1%}" in subtitle(fig)
    shown = set(labels[1:]) | set(r.predicted[1:])
    assert set(heatmap.x) == set(heatmap.y) <= set(r.classes) and shown <= set(heatmap.x)
    assert all("True:" not in text for row in heatmap.customdata for text in row)


# --- empty input ------------------------------------------------------------------------------------

EMPTY = {
    "counts": lambda: pf.predicted_class_counts_figure([], [], ["BRCA", "PRAD"]),
    "histogram": lambda: pf.confidence_histogram_figure([], 0.6),
    "ood": lambda: pf.confidence_ood_figure([], [], [], [], 1.0, 0.6),
    "projection": lambda: pf.projection_figure(np.empty((0, 2)), [], np.empty((0, 2)), [], []),
    "waterfall": lambda: pf.shap_waterfall_figure({}),
    "groups": lambda: pf.group_contributions_figure({}, "BRCA"),
    "context": lambda: pf.feature_context_figure([], "BRCA"),
    "confusion": lambda: pf.label_confusion_figure(metrics.label_agreement([], [], ["BRCA", "PRAD"])),
}


@pytest.mark.parametrize("name", EMPTY)
def test_empty_input_gives_a_message(name):
    fig = EMPTY[name]()
    serialised(fig)
    assert fig.layout.title.text and len(fig.data) == 0
    assert any(a.text and a.xref == "paper" for a in fig.layout.annotations)
