"""Figures that can be read (issue 11): many classes told apart by colour and marker together, legends
clear of the titles, skewed counts on a log scale, no one-bar charts, and features shown by readable
labels with the raw id kept. Built from the session's real models, their real held-out samples and
real explanations; the few hand-written inputs are marked as made up."""
from __future__ import annotations

import json

import numpy as np
import pytest

from components import figures
from components import prediction_figures as pf
from engine import feature_labels, projection
from engine.predict import predict
from tests.components.held_out import MODELS, context_items, every_figure, explanation_of, projection_of


# --- legends ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_no_legend_covers_a_title(name, batches):
    for what, fig in every_figure(name, batches[name]).items():
        json.loads(fig.to_json())
        legend, margin = fig.layout.legend, fig.layout.margin
        shows_legend = fig.layout.showlegend is not False and any(t.showlegend is not False for t in fig.data)
        subtitle = fig.layout.title.subtitle.text
        if subtitle:  # the top margin holds the title and every line of the subtitle
            assert margin.t >= 77 + 18 * (subtitle.count("<br>") + 1), what
        if not shows_legend:
            continue
        if legend.orientation == "h":  # below the plot, at the figure's bottom edge, in a margin of its own
            assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom", what
            assert margin.b >= figures.LEGEND_BELOW_MARGIN, what
        else:  # right of the plot area, its top level with the plot's top: under the title's margin
            assert legend.x >= 1 and legend.xanchor == "left", what
            assert legend.y <= 1 and legend.yanchor == "top" and legend.yref in (None, "paper"), what


def test_a_legend_asked_for_above_the_plot_is_put_below_it():
    fig = figures._layout(pf.go.Figure(), "t", "x", "y", subtitle="s",
                          legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "title": {"text": "kept"}})
    assert (fig.layout.legend.y, fig.layout.legend.yanchor, fig.layout.legend.yref) == (0, "bottom", "container")
    assert fig.layout.legend.title.text == "kept"


# --- many classes -----------------------------------------------------------------------------------

def test_23_tissues_get_a_colour_and_symbol_pair_each(gdsc):
    tissues = sorted(set(gdsc.y))
    assert len(tissues) == 23
    styles = figures.class_styles(tissues)
    pairs = {(s.colour, s.symbol) for s in styles.values()}
    assert len(pairs) == 23 and len({(s.colour, s.dash) for s in styles.values()}) == 23
    assert len({s.colour for s in styles.values()}) == len(figures.MANY_COLOURS) == 10
    assert figures.class_styles(list(reversed(tissues)) + tissues[:3]) == styles  # by sorted name, always
    assert figures._colours(tissues) == {t: s.colour for t, s in styles.items()}
    few = figures.class_styles(["BRCA", "PRAD", "SKCM"])
    assert len({s.colour for s in few.values()}) == 3 and {s.symbol for s in few.values()} == {"circle"}


def test_the_projection_keeps_each_class_in_one_colour_and_symbol(batches):
    batch = batches["tissue-of-origin"]
    fig = projection_of(batch)
    json.loads(fig.to_json())
    training, uploaded = pf.training_traces(fig), pf.uploaded_traces(fig)
    legend = [t for t in fig.data if t not in training and t not in uploaded]
    styles = figures.class_styles(list(batch.model.bundle.classes) + list(batch.result.predicted))
    assert sorted(t.name for t in legend) == sorted(styles)  # one legend entry a class
    for trace in fig.data:
        cls = trace.name.removesuffix(" (training)").removesuffix(" (uploaded)")
        # one colour and one symbol a trace: no per-point arrays in the JSON
        assert (trace.marker.color, trace.marker.symbol) == (styles[cls].colour, styles[cls].symbol)
        assert trace.legendgroup == cls
    assert all(t.showlegend is False for t in training + uploaded)
    assert all(t.marker.opacity is None for t in legend)  # the legend's markers are opaque
    assert len({(t.marker.color, t.marker.symbol) for t in legend}) == len(legend) == 23
    # uploaded samples stand out from the training samples: larger, outlined, opaque
    assert min(t.marker.size for t in uploaded) > max(t.marker.size for t in training)
    assert all(t.marker.line.color == pf.OUTLINE and t.marker.opacity > 0.9 for t in uploaded)
    assert all(t.marker.opacity <= 0.3 for t in training)


def test_a_large_upload_costs_little_more_than_its_coordinates(registry, tcga):
    model = registry.load("tcga-mirna-type")
    proj = projection.projection_for(model)
    X = tcga.X[model.schema.names].to_numpy(float)
    ids = tcga.X.index.astype(str).tolist()
    predicted = predict(model, X, ids).predicted
    xy = np.vstack([proj.transform(X)] * 3)  # every real TCGA sample three times: 6,630 uploaded rows
    fig = pf.projection_figure(proj.training_coordinates, proj.training_labels, xy,
                               [f"{i} (copy {k})" for k in range(3) for i in ids], predicted * 3)
    points = len(proj.training_coordinates) + pf.MAX_UPLOADED_POINTS
    size = len(fig.to_json())
    # coordinates are binary-encoded (16 bytes a point, 22 in base64); the uploaded ids are text
    id_bytes = sum(len(f"{i} (copy 0)") + 3 for i in ids) * pf.MAX_UPLOADED_POINTS / len(ids)
    assert size < 30 * points + id_bytes + 20_000, size


# --- log scales -------------------------------------------------------------------------------------

def test_the_skew_rule():
    assert figures.is_skewed([100, 4]) and figures.is_skewed([0, 300, 3, 0])  # more than 20 times; zeros ignored
    assert not figures.is_skewed([100, 5]) and not figures.is_skewed([7]) and not figures.is_skewed([])
    assert not figures.is_skewed([0, 0, 9])


def test_skewed_class_counts_use_a_log_axis_and_say_so(batches):
    r = batches["tcga-mirna-type"].result  # real: about 2.7 BRCA for each SKCM, not skewed
    plain = pf.predicted_class_counts_figure(r.predicted, list(r.abstain), r.classes)
    assert plain.layout.xaxis.type is None and plain.layout.barmode == "stack"
    assert "log" not in plain.layout.xaxis.title.text
    # made up: the real predictions with all but 5 SKCM and 5 PRAD dropped (BRCA then > 20 times each)
    keep = [i for i, c in enumerate(r.predicted) if c == "BRCA"]
    keep += [i for i, c in enumerate(r.predicted) if c == "SKCM"][:5] + [i for i, c in enumerate(r.predicted) if c == "PRAD"][:5]
    fig = pf.predicted_class_counts_figure([r.predicted[i] for i in keep], [bool(r.abstain[i]) for i in keep], r.classes)
    json.loads(fig.to_json())
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "Samples (log scale)"
    assert "Log scale" in fig.layout.title.subtitle.text and fig.layout.barmode == "group"  # parts side by side
    smallest = min(c + u for c, u in zip(fig.data[0].x, fig.data[1].x))
    assert 10 ** fig.layout.xaxis.range[0] < smallest  # the smallest class's bar still shows


@pytest.mark.parametrize("name", MODELS)
def test_count_axes_follow_the_rule(name, batches):
    batch = batches[name]
    r, metadata = batch.result, batch.model.version.metadata
    hist = pf.confidence_histogram_figure(list(r.confidence), metadata["abstain"]["threshold"])
    skewed = figures.is_skewed(hist.data[0].y)
    assert (hist.layout.yaxis.type == "log") == skewed
    assert hist.layout.yaxis.title.text == "Samples" + (" (log scale)" if skewed else "")
    calibration = figures.calibration_figure(metadata["metrics"]["calibration"])
    bars = next(t for t in calibration.data if t.type == "bar")
    assert (calibration.layout.yaxis2.type == "log") == figures.is_skewed(bars.y)


def test_skewed_positive_read_counts_get_a_log_axis_in_the_context_panels(batches):
    batch = batches["tcga-mirna-type"]
    e = explanation_of(batch, top_k=12)
    items = context_items(batch, e)
    fig = pf.feature_context_figure(items, e["class"])
    boxes = [t for t in fig.data if t.type == "box"]
    assert len(boxes) == 12
    for k, (box, item) in enumerate(zip(boxes, items)):
        axis = fig.layout["xaxis" + ("" if k == 0 else str(k + 1))]
        values = np.asarray(item["training_values"])
        expected = values.min() > 0 and (item["value"] is None or item["value"] > 0) and figures.is_skewed(values)
        assert (axis.type == "log") == expected and axis.title.text.endswith("(log scale)") == expected


# --- no one-bar charts ------------------------------------------------------------------------------

def test_one_predicted_class_is_a_sentence(batches):
    r = batches["tcga-mirna-type"].result
    rows = [i for i, c in enumerate(r.predicted) if c == "PRAD"]  # the real PRAD predictions alone
    fig = pf.predicted_class_counts_figure([r.predicted[i] for i in rows], [bool(r.abstain[i]) for i in rows], r.classes)
    assert len(fig.data) == 0 and f"All {len(rows):,} samples are predicted PRAD" in fig.layout.annotations[0].text


def test_one_feature_group_is_a_sentence_in_a_samples_explanation(batches):
    e = explanation_of(batches["tcga-mirna-type"])
    assert list(e["group_sums"]) == ["miRNA"]
    fig = pf.group_contributions_figure(e["group_sums"], e["class"])
    assert len(fig.data) == 0
    text = fig.layout.annotations[0].text
    assert "one group (miRNA)" in text and f"{e['group_sums']['miRNA']:+.4g}" in text and e["class"] in text


def test_one_feature_is_a_sentence_not_a_bar(batches):
    importance = batches["tissue-of-origin"].model.version.metadata["global_importance"]
    fig = figures.feature_importance_figure(importance, top=1)
    first = importance["features"][0]
    assert len(fig.data) == 0
    assert feature_labels.feature_label(first["feature"], first["group"]).hover in fig.layout.annotations[0].text


# --- readable feature labels ------------------------------------------------------------------------

def _plain(text: str) -> str:
    return text.replace("<br>", " ")


@pytest.mark.parametrize("name", MODELS)
def test_feature_importance_shows_labels_and_keeps_the_raw_ids(name, batches):
    importance = batches[name].model.version.metadata["global_importance"]
    fig = figures.feature_importance_figure(importance, top=10)
    shown = importance["features"][:10]
    expected = [feature_labels.feature_label(f["feature"], f["group"]) for f in shown]
    assert list(fig.layout.yaxis.tickvals) == [f["feature"] for f in shown] == list(fig.layout.yaxis.categoryarray)
    assert [_plain(t) for t in fig.layout.yaxis.ticktext] == [label.label for label in expected]
    assert all(label.known for label in expected)
    hovers = {y: row[2] for t in fig.data for y, row in zip(t.y, t.customdata)}
    assert hovers == {label.id: f"{label.label} · {label.id}" for label in expected}
    # a caller's own label wins
    first = shown[0]["feature"]
    assert fig.layout.yaxis.ticktext[0] != "my own label"
    again = figures.feature_importance_figure(importance, top=10, labels={first: "my own label"})
    assert again.layout.yaxis.ticktext[0] == "my own label"


@pytest.mark.parametrize("name", MODELS)
def test_the_waterfall_shows_labels_and_keeps_the_raw_ids(name, batches):
    e = explanation_of(batches[name], top_k=8)
    fig = pf.shap_waterfall_figure(e)
    (waterfall,) = fig.data
    ticks = [_plain(t) for t in fig.layout.yaxis.ticktext]
    assert list(fig.layout.yaxis.tickvals) == list(waterfall.y)  # categories: "raw id = value"
    for k, c in enumerate(e["top"], start=1):
        label = feature_labels.feature_label(c["feature"], c["group"])
        assert waterfall.y[k] == f"{c['feature']} = {pf._compact(c['value'])}"
        assert ticks[k] == f"{label.label} = {pf._compact(c['value'])}"
        assert f"<b>{label.label} · {c['feature']}</b>" in waterfall.customdata[k]
    assert ticks[0] == waterfall.y[0] and ticks[-1] == waterfall.y[-1] == f"probability of {e['class']}"
    given = pf.shap_waterfall_figure(e, labels={e["top"][0]["feature"]: "mine"})
    assert given.layout.yaxis.ticktext[1].startswith("mine = ")


def test_the_context_panels_are_titled_by_label(batches):
    batch = batches["tcga-mirna-type"]
    e = explanation_of(batch, top_k=6)
    items = context_items(batch, e)
    fig = pf.feature_context_figure(items, e["class"])
    for annotation, item in zip(fig.layout.annotations[:6], items):
        label = feature_labels.feature_label(item["feature"], item["group"])
        assert _plain(annotation.text) == f"{label.label}: {pf._compact(item['value'])}"
        assert label.label.startswith(("miR-", "let-"))
    diamonds = [t for t in fig.data if t.type == "scatter"]
    assert all(" · hsa." in t.hovertemplate for t in diamonds)  # the raw id, in the hover


def test_a_long_panel_title_keeps_two_lines_and_the_value(batches):
    batch = batches["tissue-of-origin"]
    e = explanation_of(batch, top_k=3)
    items = context_items(batch, e)
    first = items[0]["feature"]
    fig = pf.feature_context_figure(items, e["class"], labels={first: "a caller's label " * 8})
    text = fig.layout.annotations[0].text
    assert text.count("<br>") == 1 and text.endswith(f"…: {pf._compact(items[0]['value'])}")
    assert all(len(line) <= pf.CONTEXT_TITLE_WIDTH for line in text.split("<br>"))
