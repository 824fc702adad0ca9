"""Figures and table rows built from the metadata of real model versions (the session `registry`:
two models trained on real data). No browser: the figures' data and layout are checked directly."""
from __future__ import annotations

import json

import plotly.io as pio
import pytest

from components import figures

MODELS = ("tissue-of-origin", "tcga-mirna-type")

# Made-up fixture: a hand-written 3-class confusion matrix where class "B" has no samples at all.
ZERO_ROW_CONFUSION = {"labels": ["A", "B", "C"], "counts": [[3, 1, 0], [0, 0, 0], [1, 0, 4]]}


@pytest.fixture(params=MODELS)
def metadata(request, registry) -> dict:
    return registry.resolve(request.param).metadata


def serialised(fig) -> dict:
    """The figure as the browser gets it: valid JSON, without NaN."""
    text = fig.to_json()
    assert "NaN" not in text
    return json.loads(text)


def axis_title(fig, axis: str) -> str:
    return fig.layout[axis].title.text


def subtitle(fig) -> str:
    return fig.layout.title.subtitle.text


def diagonal(fig):
    """The dashed y = x reference shape."""
    lines = [s for s in fig.layout.shapes if s.type == "line" and (s.x0, s.y0, s.x1, s.y1) == (0, 0, 1, 1)]
    assert len(lines) == 1
    return lines[0]


# --- confusion matrix -------------------------------------------------------------------------------

def test_confusion_matrix_shows_the_counts(metadata):
    confusion = metadata["metrics"]["confusion_matrix"]
    labels = confusion["labels"]
    fig = figures.confusion_matrix_figure(confusion)
    (heatmap,) = fig.data
    assert heatmap.type == "heatmap"
    assert [list(row) for row in heatmap.z] == confusion["counts"]
    assert list(heatmap.x) == labels and list(heatmap.y) == labels == metadata["classes"]
    assert axis_title(fig, "xaxis") == "Predicted class" and axis_title(fig, "yaxis") == "True class"
    assert fig.layout.yaxis.autorange == "reversed"  # first class on top, rows read like a table
    assert f"{metadata['metrics']['n_samples']} in total" in subtitle(fig)
    annotated = len(labels) <= figures.ANNOTATE_MAX_CLASSES
    assert (heatmap.texttemplate is not None) == annotated
    if annotated:
        assert [list(row) for row in heatmap.text] == [[str(v) for v in row] for row in confusion["counts"]]
    # hover carries the exact count of each cell
    t, p = 0, len(labels) - 1
    assert f"{confusion['counts'][t][p]} of {sum(confusion['counts'][t])} samples" in heatmap.customdata[t][p]
    serialised(fig)


def test_normalised_confusion_matrix_rows_are_recall_shares(metadata):
    metrics = metadata["metrics"]
    fig = figures.confusion_matrix_figure(metrics["confusion_matrix"], normalise=True)
    (heatmap,) = fig.data
    assert (heatmap.zmin, heatmap.zmax) == (0.0, 1.0)
    for k, (label, row) in enumerate(zip(heatmap.y, heatmap.z)):
        assert sum(row) == pytest.approx(1.0, abs=1e-4)
        assert row[k] == pytest.approx(metrics["per_class"][label]["recall"], abs=1e-5)
    serialised(fig)


def test_a_class_without_samples_gives_an_empty_row_not_nan():
    normalised = figures.confusion_matrix_figure(ZERO_ROW_CONFUSION, normalise=True)
    z = [list(row) for row in normalised.data[0].z]
    assert z[0] == [0.75, 0.25, 0.0]
    assert z[1] == [None, None, None]
    assert z[2] == [0.2, 0.0, 0.8]
    assert "no held-out samples of B" in normalised.data[0].customdata[1][0]
    serialised(normalised)
    counts = figures.confusion_matrix_figure(ZERO_ROW_CONFUSION)
    assert [list(row) for row in counts.data[0].z] == ZERO_ROW_CONFUSION["counts"]
    serialised(counts)


def test_a_confusion_matrix_that_does_not_match_its_labels_is_refused():
    with pytest.raises(ValueError, match="3 x 3"):
        figures.confusion_matrix_figure({"labels": ["A", "B", "C"], "counts": [[1, 2], [3, 4]]})


# --- ROC and precision-recall -----------------------------------------------------------------------

def _coloured(fig) -> dict:
    """Legend name -> trace of the curves drawn in colour (not the grey context, not the average)."""
    return {t.name: t for t in fig.data if t.showlegend is not False and t.name != "macro average"}


def test_roc_curves_one_line_per_class_with_auc_in_the_legend(metadata):
    roc = metadata["metrics"]["roc"]
    fig = figures.roc_curves_figure(roc)
    shown = figures.curve_classes(roc, "auc")
    by_name = _coloured(fig)
    assert len(by_name) == len(shown) == min(len(roc), figures.CURVES_SHOWN)
    for cls in shown:
        curve = roc[cls]
        trace = by_name[f"{cls} (AUC {curve['auc']:.2f})"]
        assert list(trace.x) == curve["fpr"] and list(trace.y) == curve["tpr"]
    aucs = [float(name.rsplit("AUC ", 1)[1].rstrip(")")) for name in by_name]
    assert aucs == sorted(aucs, reverse=True)  # legend ranked, best first
    assert diagonal(fig).line.dash == "dash"
    assert axis_title(fig, "xaxis").startswith("False positive rate")
    assert axis_title(fig, "yaxis").startswith("True positive rate")
    serialised(fig)


def test_many_classes_draw_the_chosen_curves_over_grey_ones_and_the_macro_average(registry):
    roc = registry.resolve("tissue-of-origin").metrics["roc"]  # 23 classes
    assert len(roc) > figures.CURVES_SHOWN
    ranked = sorted(roc, key=lambda c: (-roc[c]["auc"], c))
    assert figures.curve_classes(roc, "auc") == ranked[:3] + ranked[-3:]  # the best and the worst by default
    fig = figures.roc_curves_figure(roc, chosen=["skin", "bone", "not-a-class"])
    assert sorted(name.split(" (")[0] for name in _coloured(fig)) == ["bone", "skin"]
    grey = [t for t in fig.data if t.showlegend is False]
    assert len(grey) == len(roc) - 2 and all(t.line.color == figures.OTHER_CURVE["color"] for t in grey)
    (average,) = [t for t in fig.data if t.name == "macro average"]
    grid, mean = figures.macro_average_curve(roc, "fpr", "tpr")
    assert list(average.x) == grid and list(average.y) == mean and grid[0] == 0 and grid[-1] == 1
    assert all(0 <= y <= 1 for y in mean) and mean == sorted(mean)  # a ROC curve never falls
    area = sum((grid[i + 1] - grid[i]) * (mean[i + 1] + mean[i]) / 2 for i in range(len(grid) - 1))
    assert area == pytest.approx(registry.resolve("tissue-of-origin").metrics["roc_auc_macro"], abs=0.03)
    assert "2 of 23 classes in colour" in subtitle(fig)


def test_precision_recall_one_line_per_class(metadata):
    pr = metadata["metrics"]["precision_recall"]
    fig = figures.precision_recall_figure(pr)
    shown = figures.curve_classes(pr, "average_precision")
    by_name = _coloured(fig)
    assert len(by_name) == len(shown) == min(len(pr), figures.CURVES_SHOWN)
    for cls in shown:
        curve = pr[cls]
        trace = by_name[f"{cls} (AP {curve['average_precision']:.2f})"]
        assert list(trace.x) == curve["recall"] and list(trace.y) == curve["precision"]
    assert axis_title(fig, "xaxis").startswith("Recall") and axis_title(fig, "yaxis").startswith("Precision")
    serialised(fig)


def test_a_class_keeps_its_colour_across_roc_and_pr(metadata):
    metrics = metadata["metrics"]
    every = sorted(metrics["roc"])
    roc = {t.name.rsplit(" (", 1)[0]: (t.line.color, t.line.dash) for t in _coloured(
        figures.roc_curves_figure(metrics["roc"], chosen=every)).values()}
    pr = {t.name.rsplit(" (", 1)[0]: (t.line.color, t.line.dash) for t in _coloured(
        figures.precision_recall_figure(metrics["precision_recall"], chosen=every)).values()}
    assert roc == pr and len(roc) == len(every)
    # 23 classes get distinct (colour, dash) pairs: 10 colours that can be told apart, then a new dash
    assert len(set(roc.values())) == len(roc)
    assert len({colour for colour, _ in roc.values()}) == min(len(roc), 11 if len(roc) <= 11 else 10)


# --- calibration and selective prediction -----------------------------------------------------------

def test_calibration_reliability_diagram(metadata):
    metrics = metadata["metrics"]
    calibration = metrics["calibration"]
    fig = figures.calibration_figure(calibration)
    line = next(t for t in fig.data if t.type == "scatter")
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(line.x) == [b["mean_confidence"] for b in calibration["curve"]]
    assert list(line.y) == [b["accuracy"] for b in calibration["curve"]]
    assert sum(bars.y) == metrics["n_samples"]  # every held-out sample falls in one bin
    assert diagonal(fig).name == "perfect calibration"
    assert f"(ECE) {calibration['expected_calibration_error']:.3f}" in subtitle(fig)
    assert f"Brier score {calibration['brier_score']:.3f}" in subtitle(fig)
    assert axis_title(fig, "xaxis2").startswith("Mean confidence")  # on the bottom panel
    skewed = figures.is_skewed(bars.y)  # most held-out samples sit in the top bins: usually skewed
    assert axis_title(fig, "yaxis").startswith("Accuracy")
    assert axis_title(fig, "yaxis2") == ("samples (log scale)" if skewed else "samples")
    assert fig.layout.yaxis2.type == ("log" if skewed else None)
    serialised(fig)


def test_accuracy_coverage_marks_the_abstain_threshold(metadata):
    metrics = metadata["metrics"]
    curve, selective = metrics["accuracy_coverage"], metrics["selective"]
    fig = figures.accuracy_coverage_figure(curve, selective)
    line = fig.data[0]
    assert list(line.x) == curve["coverage"] and list(line.y) == curve["accuracy"]
    assert list(line.customdata) == curve["threshold"]  # hover shows each point's threshold
    (vline,) = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert vline.x0 == selective["coverage"]
    (annotation,) = fig.layout.annotations
    assert annotation.x == selective["coverage"]
    t, kept, accuracy = selective["abstain_threshold"], selective["coverage"], selective["accuracy_on_covered"]
    if accuracy is not None:
        (marker,) = [tr for tr in fig.data if tr.name == "abstain threshold"]
        assert list(marker.x) == [kept] and list(marker.y) == [accuracy]
        assert annotation.text == f"abstain below confidence {t:.2f}: keeps {kept:.1%} at accuracy {accuracy:.2f}"
    assert axis_title(fig, "xaxis").startswith("Coverage") and axis_title(fig, "yaxis").startswith("Accuracy")
    assert fig.layout.xaxis.tickformat == ".0%"
    serialised(fig)


def test_accuracy_coverage_when_nothing_reaches_the_threshold(metadata):
    curve = metadata["metrics"]["accuracy_coverage"]
    # Made-up fixture: a threshold no held-out sample reaches.
    selective = {"abstain_threshold": 0.999, "coverage": 0.0, "accuracy_on_covered": None}
    fig = figures.accuracy_coverage_figure(curve, selective)
    assert [t.name for t in fig.data] == ["all thresholds"]  # no marker without a point to mark
    (vline,) = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert vline.x0 == 0.0
    assert "no held-out sample reaches it" in fig.layout.annotations[0].text
    serialised(fig)


# --- explanations -----------------------------------------------------------------------------------

def bars_top_down(fig) -> list[tuple[str, float, str]]:
    """(feature, value, group) of every bar, in the order drawn from the top."""
    bars = {y: (x, trace.name) for trace in fig.data for x, y in zip(trace.x, trace.y)}
    order = list(fig.layout.yaxis.categoryarray)
    assert fig.layout.yaxis.autorange == "reversed"  # first category on top
    assert set(order) == set(bars)
    return [(name, *bars[name]) for name in order]


@pytest.mark.parametrize("top", [20, 5])
def test_feature_importance_largest_on_top_and_limited(metadata, top):
    importance = metadata["global_importance"]
    fig = figures.feature_importance_figure(importance, top=top)
    drawn = bars_top_down(fig)
    assert len(drawn) == min(top, len(importance["features"]))
    assert [name for name, _, _ in drawn] == [f["feature"] for f in importance["features"][:top]]
    values = [v for _, v, _ in drawn]
    assert values == sorted(values, reverse=True)
    group_of = {f["feature"]: f["group"] for f in importance["features"]}
    assert all(group == group_of[name] for name, _, group in drawn)  # one trace (legend entry) per group
    assert axis_title(fig, "xaxis") == "mean |SHAP value|"
    assert importance["output_space"] in subtitle(fig)
    serialised(fig)


def test_feature_importance_top_beyond_the_feature_count_and_below_one(metadata):
    importance = metadata["global_importance"]
    n = len(importance["features"])
    assert len(bars_top_down(figures.feature_importance_figure(importance, top=n + 50))) == n
    with pytest.raises(ValueError):
        figures.feature_importance_figure(importance, top=0)


def test_one_feature_group_gets_a_sentence_not_a_one_bar_chart(registry):
    importance = registry.resolve("tcga-mirna-type").global_importance
    assert len(importance["groups"]) == 1
    fig = figures.group_importance_figure(importance)
    assert len(fig.data) == 0
    assert "one group (miRNA)" in fig.layout.annotations[0].text and "298 features" in fig.layout.annotations[0].text


def test_group_importance_bars_per_group(registry):
    importance = registry.resolve("tissue-of-origin").global_importance  # mutations, copy number, MSI
    fig = figures.group_importance_figure(importance)
    (bars,) = fig.data
    expected = sorted(importance["groups"].items(), key=lambda kv: -kv[1])
    assert list(bars.y) == [g for g, _ in expected] and list(bars.x) == [v for _, v in expected]
    assert list(fig.layout.yaxis.categoryarray) == list(bars.y) and fig.layout.yaxis.autorange == "reversed"
    n_features = [row[1] for row in bars.customdata]
    assert sum(n_features) == len(importance["features"])
    assert sum(row[0] for row in bars.customdata) == pytest.approx(1.0)
    assert "mean |SHAP value|" in axis_title(fig, "xaxis") and axis_title(fig, "yaxis") == "Feature group"
    # a group has the same colour here as in the feature figure
    feature_colours = {t.name: t.marker.color for t in figures.feature_importance_figure(importance).data}
    group_colours = dict(zip(bars.y, bars.marker.color))
    assert all(group_colours[g] == c for g, c in feature_colours.items())
    serialised(fig)


# --- every figure -----------------------------------------------------------------------------------

def all_figures(metadata) -> dict:
    m = metadata["metrics"]
    return {
        "confusion": figures.confusion_matrix_figure(m["confusion_matrix"]),
        "confusion normalised": figures.confusion_matrix_figure(m["confusion_matrix"], normalise=True),
        "roc": figures.roc_curves_figure(m["roc"]),
        "pr": figures.precision_recall_figure(m["precision_recall"]),
        "calibration": figures.calibration_figure(m["calibration"]),
        "coverage": figures.accuracy_coverage_figure(m["accuracy_coverage"], m["selective"]),
        "features": figures.feature_importance_figure(metadata["global_importance"]),
        "groups": figures.group_importance_figure(metadata["global_importance"]),
    }


def test_every_figure_has_titles_the_shared_template_and_stays_light(metadata):
    for name, fig in all_figures(metadata).items():
        assert fig.layout.title.text, name
        assert fig.layout.template == pio.templates["plotly_white"], name
        x_axis = "xaxis2" if name == "calibration" else "xaxis"
        assert axis_title(fig, x_axis) and axis_title(fig, "yaxis"), name
        for trace in fig.data:
            if trace.type == "scatter":
                assert len(trace.x) <= 101, name
        assert len(fig.to_json()) < 250_000, name
        serialised(fig)


# --- table rows -------------------------------------------------------------------------------------

def test_per_class_rows_sorted_and_rounded(metadata):
    per_class = metadata["metrics"]["per_class"]
    rows = figures.per_class_metrics_rows(per_class)
    assert [r["class"] for r in rows] == sorted(per_class, key=str.casefold)
    for row in rows:
        assert set(row) == {"class", "precision", "recall", "f1", "support"}
        source = per_class[row["class"]]
        for key in ("precision", "recall", "f1"):
            assert row[key] == round(source[key], 3)
        assert row["support"] == source["support"] and isinstance(row["support"], int)
    assert sum(r["support"] for r in rows) == metadata["metrics"]["n_samples"]
    json.dumps(rows)


def test_comparison_rows_hold_both_values_and_b_minus_a(registry):
    a = registry.resolve("tissue-of-origin").metrics
    b = registry.resolve("tcga-mirna-type").metrics
    rows = figures.metrics_comparison_rows(a, b, "tissue v1", "mirna v1")
    assert [r["key"] for r in rows] == ["accuracy", "balanced_accuracy", "macro_f1", "top_3_accuracy",
                                        "log_loss", "roc_auc_macro", "expected_calibration_error", "brier_score",
                                        "coverage", "accuracy_on_covered"]
    source = {
        "expected_calibration_error": lambda m: m["calibration"]["expected_calibration_error"],
        "brier_score": lambda m: m["calibration"]["brier_score"],
        "coverage": lambda m: m["selective"]["coverage"],
        "accuracy_on_covered": lambda m: m["selective"]["accuracy_on_covered"],
    }
    for row in rows:
        read = source.get(row["key"], lambda m, k=row["key"]: m[k])
        va, vb = read(a), read(b)
        assert row["tissue v1"] == ("n/a" if va is None else round(va, 4))
        assert row["mirna v1"] == ("n/a" if vb is None else round(vb, 4))
        if va is None or vb is None:
            assert row["difference"] == "n/a"
        else:
            assert row["difference"] == pytest.approx(vb - va, abs=1e-4)
            assert row["difference"] == round(vb - va, 4)
    # 3 classes: top-3 accuracy is not reported for the miRNA model, so there is nothing to subtract
    top3 = next(r for r in rows if r["key"] == "top_3_accuracy")
    assert b["top_3_accuracy"] is None and top3["mirna v1"] == "n/a" and top3["difference"] == "n/a"
    assert isinstance(top3["tissue v1"], float)
    lower_better = {r["key"] for r in rows if r["better"] == "lower"}
    assert lower_better == {"log_loss", "expected_calibration_error", "brier_score"}
    by_key = {r["key"]: r for r in rows}
    assert by_key["accuracy"]["better version"] == "mirna v1"  # 0.998 against 0.42
    assert by_key["expected_calibration_error"]["better version"] == (
        "mirna v1" if b["calibration"]["expected_calibration_error"] < a["calibration"]["expected_calibration_error"]
        else "tissue v1")  # lower is better here
    assert top3["better version"] == "n/a"
    json.dumps(rows)


def test_comparing_a_version_with_itself_gives_zero_differences(registry):
    a = registry.resolve("tissue-of-origin").metrics
    rows = figures.metrics_comparison_rows(a, a, "v1", "v1 again")
    assert all(r["difference"] == 0 for r in rows if r["difference"] != "n/a")
    assert all(r["v1"] == r["v1 again"] for r in rows)
    assert {r["better version"] for r in rows} <= {"equal", "n/a"}
    same = figures.metrics_comparison_rows(a, a, "tissue-of-origin:1", "tissue-of-origin:1")
    assert all(r["tissue-of-origin:1"] == r["tissue-of-origin:1 (b)"] for r in same)  # no column lost
    with pytest.raises(ValueError, match="must not be"):
        figures.metrics_comparison_rows(a, a, "v1", "difference")


# --- each omics block alone -------------------------------------------------------------------------

def test_per_block_rows_and_figure_of_the_brca_model(brca_model, registry):
    version = brca_model.version
    per_block = version.per_block
    rows = figures.per_block_rows(per_block)
    assert [r["block"] for r in rows] == ["mRNA", "miRNA", "methylation", figures.ALL_BLOCKS]
    assert [r["features"] for r in rows] == [200, 100, 400, 700]
    assert rows[-1]["balanced_accuracy"] == round(version.metrics["balanced_accuracy"], 3)
    assert {k for k in rows[0] if k.startswith("recall ")} == {f"recall {c}" for c in version.classes}
    fig = figures.per_block_figure(per_block)
    shown = serialised(fig)
    assert [t["name"] for t in shown["data"]] == ["balanced accuracy", "macro-F1"]
    assert list(shown["data"][0]["x"]) == [r["balanced_accuracy"] for r in rows]
    assert list(shown["data"][1]["y"]) == [r["block"] for r in rows]
    assert per_block["candidate"] in subtitle(fig)
    assert all(registry.resolve(m).per_block is None for m in MODELS)  # one source each: no such view
