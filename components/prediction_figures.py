"""Figures about one batch of predictions: what the model predicted for uploaded samples, how sure it
was, where the samples lie beside the training samples, why one sample got its class, and how the
predictions agree with labels the user uploaded.

Every function here is pure: plain data in (lists, dicts, numpy arrays, such as `PredictionResult`
fields, `Explanation.to_dict()` and `engine.metrics.label_agreement`), a `plotly.graph_objects.Figure`
out. They share the look of `components.figures` (its `_layout`, `_note` and `class_styles`), so a
class keeps its colour and marker across the portal, legends never cover titles, skewed counts are
drawn on a log scale, and a chart that would hold one bar is a sentence instead. Empty input gives a
figure with a short message, never an error. Features are shown by their readable label
(`engine.feature_labels`, from the feature's group, or as a caller passes them in `labels`) with the raw
id in the hover. SHAP colours follow the SHAP convention: red pushes toward the class, blue away from it.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.figures import (LOG_SCALE, SKEWED_RATIO, TICK_WIDTH, _count_axis, _feature_ticks, _layout, _note,
                                class_styles, confusion_matrix_figure, is_skewed)
from engine import feature_labels

CONFIDENT = "#08519c"
UNCERTAIN = "#fdae6b"  # below the abstain threshold: a caution colour
UNUSUAL = "#8e6bb8"  # out of distribution
BOTH = "#d62728"
THRESHOLD_LINE = {"color": "#d62728", "width": 1.5, "dash": "dot"}
PUSHES_TOWARD, PUSHES_AWAY = "#ff0051", "#008bfb"  # SHAP's own red and blue
TOTAL = "#5b6b7f"
OUTLINE = "#1f1f1f"
MAX_POINTS = 2000  # samples drawn one by one; beyond this a figure shows their density (the pages load a
# plotly.js without WebGL, portal.plotly_bundle, and thousands of SVG points would draw slowly)
MAX_UPLOADED_POINTS = MAX_POINTS
DENSITY_BINS = (60, 40)
MAX_CONTEXT_PANELS = 12
CONTEXT_COLUMNS = 3
CONFIDENCE_EDGES = np.linspace(0.0, 1.0, 21)  # 20 bins of 0.05
CONFIDENCE_AXIS = "Confidence (probability of the predicted class)"
HORIZONTAL_LEGEND = {"orientation": "h"}  # placed below the plot by components.figures._layout


# --- shared helpers ---------------------------------------------------------------------------------

def _empty(title: str, x_title: str, y_title: str, message: str) -> go.Figure:
    """A figure with a sentence instead of data: no data, no ticks, no grid to suggest any."""
    fig = _layout(_note(go.Figure(), message), title, x_title, y_title, height=360)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return fig


def _compact(value) -> str:
    """A sample's input value, short: integers with separators, others to 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing (imputed)"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def _probability(p: float) -> str:
    """A probability as a percentage that never rounds to a certain 0% or 100%."""
    p = float(p)
    return "> 99.9%" if p >= 0.9995 else "< 0.1%" if p < 0.0005 else f"{p:.1%}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _threshold(fig: go.Figure, axis: str, value: float, label: str, label_left: bool = False) -> None:
    """A dotted red threshold line across the plot (vertical for axis "x") with its label, on the
    line's left when `label_left` (a line near the right edge)."""
    add = fig.add_vline if axis == "x" else fig.add_hline
    position = ("top left" if label_left else "top right") if axis == "x" else "bottom right"
    add(value, line=THRESHOLD_LINE, annotation_text=label, annotation_font={"size": 12, "color": "#b22222"},
        annotation_bgcolor="rgba(255,255,255,0.85)", annotation_position=position)


# --- a batch of predictions -------------------------------------------------------------------------

def predicted_class_counts_figure(predicted: list[str], abstain: list[bool], classes: list[str]) -> go.Figure:
    """Samples per predicted class, most frequent on top, split into confident predictions and those
    below the abstain threshold. Classes never predicted are left out.

    The samples axis is on a log scale when the most frequent class has more than SKEWED_RATIO (20)
    times the samples of the least frequent one predicted (the axis title and the subtitle say so);
    the two parts are then drawn side by side rather than stacked, since a stacked part's length on a
    log scale is not its count.
    When every sample gets the same class, the figure says so in a sentence (one bar compares nothing)."""
    title = "Predicted classes of the uploaded samples"
    if len(predicted) != len(abstain):
        raise ValueError(f"{len(predicted)} predictions but {len(abstain)} abstain flags")
    if len(predicted) == 0:
        return _empty(title, "Samples", "Predicted class", "No predictions to show.")
    confident, uncertain = Counter(), Counter()
    for name, low in zip(predicted, abstain):
        (uncertain if low else confident)[str(name)] += 1
    rank = {str(c): i for i, c in enumerate(classes)}
    names = sorted(set(confident) | set(uncertain),
                   key=lambda c: (-(confident[c] + uncertain[c]), rank.get(c, len(rank)), c))
    totals = [confident[c] + uncertain[c] for c in names]
    n, low = len(predicted), sum(uncertain.values())
    if len(names) == 1:
        return _empty(title, "Samples", "Predicted class",
                      f"All {n:,} samples are predicted {names[0]}<br>"
                      f"({low:,}, {_share(low, n)}, below the abstain threshold).")
    fig = go.Figure()
    for label, counter, colour in (("confident", confident, CONFIDENT),
                                   ("below the abstain threshold", uncertain, UNCERTAIN)):
        fig.add_trace(go.Bar(
            x=[counter[c] for c in names], y=names, orientation="h", name=label, marker={"color": colour},
            customdata=[[t, counter[c] / t] for c, t in zip(names, totals)],
            hovertemplate=(f"<b>%{{y}}</b><br>{label}: %{{x}} of %{{customdata[0]}} samples "
                           "(%{customdata[1]:.1%})<extra></extra>"),
        ))
    subtitle = (f"{n:,} samples; {len(names)} of {len(classes)} classes predicted. "
                f"{low:,} ({_share(low, n)}) fall below the abstain threshold: treat those as uncertain.")
    log = is_skewed(totals)
    if log:
        subtitle += (f"<br>Log scale: the largest class has more than {SKEWED_RATIO} times the samples of the "
                     "smallest; the two parts side by side.")
    _layout(fig, title, "Samples", "Predicted class", subtitle=subtitle,
            height=max(360, 200 + (34 if log else 24) * len(names)), barmode="group" if log else "stack",
            legend={**HORIZONTAL_LEGEND, "traceorder": "normal"})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    _count_axis(fig, totals, "xaxis")
    return fig


def confidence_histogram_figure(confidence: list[float], threshold: float) -> go.Figure:
    """Histogram of the predicted class's probability in 20 bins over 0..1, with the abstain
    threshold marked and the region where the model abstains shaded. The samples axis is on a log
    scale when the fullest bin holds more than SKEWED_RATIO (20) times the emptiest nonzero one."""
    title = "How confident the model is"
    values = np.asarray(confidence, dtype=float).ravel()
    values = np.clip(values[np.isfinite(values)], 0.0, 1.0)
    if values.size == 0:
        return _empty(title, CONFIDENCE_AXIS, "Samples", "No predictions to show.")
    counts, edges = np.histogram(values, bins=CONFIDENCE_EDGES)
    n = int(values.size)
    fig = go.Figure(go.Bar(
        x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name="samples",
        marker={"color": CONFIDENT, "line": {"color": "#ffffff", "width": 1}},
        customdata=np.column_stack([edges[:-1], edges[1:], counts / n]),
        hovertemplate=("confidence %{customdata[0]:.2f}–%{customdata[1]:.2f}<br>%{y} samples "
                       "(%{customdata[2]:.1%})<extra></extra>"),
    ))
    fig.add_vrect(x0=0, x1=threshold, fillcolor=UNCERTAIN, opacity=0.18, line_width=0, layer="below")
    _threshold(fig, "x", threshold, f"abstain threshold {threshold:.2f}", label_left=threshold > 0.6)
    low = int((values < threshold).sum())
    subtitle = (f"{n:,} samples; {low:,} ({_share(low, n)}) below the abstain threshold of "
                f"{threshold:.3f} (shaded), where the model abstains.")
    if is_skewed(counts):
        subtitle += f"<br>Log scale: the fullest bin holds more than {SKEWED_RATIO} times the samples of the emptiest."
    _layout(fig, title, CONFIDENCE_AXIS, "Samples", subtitle=subtitle, height=420, bargap=0, showlegend=False)
    fig.update_xaxes(range=[0, 1], dtick=0.1)
    _count_axis(fig, counts, "yaxis")
    return fig


def confidence_ood_figure(ids: list[str], predicted: list[str], confidence: list[float], ood_score: list[float],
                          ood_threshold: float, abstain_threshold: float) -> go.Figure:
    """Each sample's confidence against its out-of-distribution score, with both thresholds: the
    top-left region holds the predictions to trust; the others are coloured by the reason for doubt."""
    title = "Confidence and how unusual each sample is"
    x_title = "Out-of-distribution score (distance to the nearest training samples)"
    if not len(ids) == len(predicted) == len(confidence) == len(ood_score):
        raise ValueError("ids, predicted, confidence and ood_score must have one entry per sample")
    y_title = CONFIDENCE_AXIS.replace(" (", "<br>(")  # two lines: the plot is not tall enough for one
    if len(ids) == 0:
        return _empty(title, x_title, y_title, "No predictions to show.")
    conf, score = np.asarray(confidence, dtype=float), np.asarray(ood_score, dtype=float)
    low, unusual = conf < abstain_threshold, score > ood_threshold
    regions = (("confident, typical sample", ~low & ~unusual, CONFIDENT),
               ("below the abstain threshold", low & ~unusual, UNCERTAIN),
               ("out of distribution", ~low & unusual, UNUSUAL),
               ("both", low & unusual, BOTH))
    fig = go.Figure()
    x_max = 1.05 * max(float(np.nanmax(score)), ood_threshold)
    if len(ids) > MAX_POINTS:
        _density(fig, score, conf, x_max)
        counts = "; ".join(f"{name} {int(mask.sum()):,}" for name, mask, _ in regions)
        subtitle = (f"{len(ids):,} samples, too many to draw one by one: the colour says how many fall in each "
                    f"cell.<br>{counts}.")
    else:
        subtitle = (f"{len(ids):,} samples. Trust most the predictions above the abstain threshold and left of "
                    "the<br>out-of-distribution threshold. Hover for each sample.")
    for name, mask, colour in regions if len(ids) <= MAX_POINTS else ():
        rows = np.flatnonzero(mask)
        if rows.size:
            fig.add_trace(go.Scatter(
                x=score[rows], y=conf[rows], mode="markers", name=f"{name} ({rows.size:,})",
                marker={"color": colour, "size": 7, "opacity": 0.8, "line": {"color": "#ffffff", "width": 0.5}},
                customdata=[[str(ids[i]), str(predicted[i])] for i in rows],
                hovertemplate=("<b>%{customdata[0]}</b><br>predicted %{customdata[1]}<br>confidence %{y:.3f}"
                               "<br>out-of-distribution score %{x:.4g}<extra></extra>"),
            ))
    _threshold(fig, "x", ood_threshold, f"out-of-distribution threshold {ood_threshold:.3g}",
               label_left=ood_threshold > 0.6 * x_max)
    _threshold(fig, "y", abstain_threshold, f"abstain threshold {abstain_threshold:.2f}")
    _layout(fig, title, x_title, y_title, subtitle=subtitle, height=480, legend=HORIZONTAL_LEGEND)
    fig.update_xaxes(range=[0, x_max])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def _density(fig: go.Figure, x: np.ndarray, y: np.ndarray, x_max: float) -> None:
    """How many samples fall in each cell of a grid, coloured on a log scale (a few and thousands both
    show); empty cells stay blank, and the hover gives the count."""
    counts, x_edges, y_edges = np.histogram2d(x, y, bins=DENSITY_BINS, range=[[0, x_max], [0, 1.02]])
    counts = counts.T.astype(int)  # rows: confidence
    shown = np.where(counts > 0, np.round(np.log10(np.maximum(counts, 1)), 3), np.nan)
    top = max(1.0, float(np.nanmax(shown)))
    ticks = [k for k in range(int(np.floor(top)) + 1)]
    fig.add_trace(go.Heatmap(
        x=(x_edges[:-1] + x_edges[1:]) / 2, y=(y_edges[:-1] + y_edges[1:]) / 2, z=shown, customdata=counts,
        colorscale="Blues", zmin=0, zmax=top, name="samples", hoverongaps=False,
        colorbar={"title": {"text": "samples"}, "tickvals": ticks, "ticktext": [f"{10 ** k:,}" for k in ticks]},
        hovertemplate=("%{customdata:,.0f} samples<br>out-of-distribution score about %{x:.3g}"
                       "<br>confidence about %{y:.2f}<extra></extra>"),
    ))


def projection_figure(training_xy, training_labels, upload_xy, upload_ids, upload_predicted,
                      explained_variance=None) -> go.Figure:
    """Uploaded samples (large, outlined, by predicted class) on the 2-D map of the model's training
    samples (small, faint, by true class); at most MAX_UPLOADED_POINTS uploaded points.

    A class is drawn with the same colour and marker symbol (`components.figures.class_styles`) for
    its training samples and the uploaded samples predicted as it, so even 23 classes stay apart: with
    more classes than colours, each gets a (colour, symbol) pair of its own, by sorted class name. One
    trace a class and kind (no per-point colour or symbol arrays: the JSON grows with the points only
    by their coordinates and the uploaded samples' ids). A class's legend entry is a marker-only trace
    of its own, drawn opaque (the training markers are faint); clicking it shows or hides the class's
    training and uploaded samples together. The subtitle says which points are uploaded."""
    title = "Where the uploaded samples lie among the training samples"
    train = np.asarray(training_xy, dtype=float).reshape(-1, 2)
    upload = np.asarray(upload_xy, dtype=float).reshape(-1, 2)
    train_labels = [str(c) for c in training_labels]
    if len(train_labels) != len(train) or not len(upload) == len(upload_ids) == len(upload_predicted):
        raise ValueError("coordinates, labels, ids and predicted classes must have one entry per sample")
    axes = [f"PC{k + 1}" + (f" ({explained_variance[k]:.1%} of variance)" if explained_variance is not None else "")
            for k in range(2)]
    if len(train) == 0 and len(upload) == 0:
        return _empty(title, axes[0], axes[1], "No samples to show.")
    shown = min(len(upload), MAX_UPLOADED_POINTS)
    predicted = np.array([str(c) for c in upload_predicted[:shown]], dtype=object)
    styles = class_styles(train_labels + predicted.tolist())
    order = sorted(styles, key=lambda s: (s.casefold(), s))
    fig = go.Figure()
    for name in order:  # the legend: one opaque marker a class, no points
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name, hoverinfo="skip",
                                 marker={"color": styles[name].colour, "symbol": styles[name].symbol, "size": 9}))
    labels = np.array(train_labels, dtype=object)
    for name in order:
        rows = np.flatnonzero(labels == name)
        if rows.size:
            style = styles[name]
            fig.add_trace(go.Scatter(
                x=train[rows, 0], y=train[rows, 1], mode="markers", name=f"{name} (training)", legendgroup=name,
                showlegend=False, marker={"color": style.colour, "symbol": style.symbol, "size": 6, "opacity": 0.3},
                hovertemplate=f"training sample of <b>{name}</b><br>PC1 %{{x:.3g}}, PC2 %{{y:.3g}}<extra></extra>",
            ))
    ids = np.array([str(i) for i in upload_ids[:shown]], dtype=object)
    for name in order:
        rows = np.flatnonzero(predicted == name)
        if rows.size:
            style = styles[name]
            fig.add_trace(go.Scatter(
                x=upload[rows, 0], y=upload[rows, 1], mode="markers", name=f"{name} (uploaded)", legendgroup=name,
                showlegend=False, customdata=ids[rows],
                marker={"color": style.colour, "symbol": style.symbol, "size": 11, "opacity": 0.95,
                        "line": {"color": OUTLINE, "width": 1.5}},
                hovertemplate=(f"<b>%{{customdata}}</b> (uploaded)<br>predicted {name}"
                               "<br>PC1 %{x:.3g}, PC2 %{y:.3g}<extra></extra>"),
            ))
    subtitle = ("Principal components of the model's preprocessed features. Faint markers: training samples by "
                "class;<br>large outlined markers: uploaded samples, by predicted class (same colour and symbol).")
    if shown < len(upload):
        subtitle += f" First {shown:,} of {len(upload):,} uploaded samples shown."
    elif not shown:
        subtitle += " No uploaded samples."
    _layout(fig, title, axes[0], axes[1], subtitle=subtitle, height=max(600, 260 + 20 * len(order)),
            legend={"title": {"text": "class"}, "itemsizing": "constant", "tracegroupgap": 0})
    return fig


def uploaded_traces(fig: go.Figure) -> list:
    """The traces of a projection figure that hold uploaded samples (one a predicted class)."""
    return [t for t in fig.data if str(t.name).endswith(" (uploaded)")]


def training_traces(fig: go.Figure) -> list:
    """The traces of a projection figure that hold training samples (one a class)."""
    return [t for t in fig.data if str(t.name).endswith(" (training)")]


# --- one sample's explanation -----------------------------------------------------------------------

def _points(p: float) -> str:
    """A change of probability in percentage points, signed."""
    return f"{100 * float(p):+.1f} pts" if abs(p) >= 0.0005 else f"{100 * float(p):+.2g} pts"


def shap_waterfall_figure(explanation: dict, *, labels: Mapping[str, feature_labels.FeatureLabel | str] | None = None
                          ) -> go.Figure:
    """The calibrated probability of the explained class, built up from the model's probability for an
    average sample: one bar per top feature (largest |SHAP value| on top), one for all other features,
    for a random forest the calibration (temperature scaling) as its own last step, and the probability
    the page states as the total. Bars are `Explanation` effects (changes of that probability), so the
    base plus the bars is the stated probability; each feature's SHAP value, in the explained output's
    own space, is in its hover. The title says why the sample is its predicted class, or, for another
    class, what speaks for and against it.

    Each feature bar is keyed by "raw id = value" (the y categories) and the axis shows "readable label
    = value" (`engine.feature_labels`, from the feature's group, or as given in `labels`: raw id ->
    label); the hover gives the label and the raw id ("BRAF mutation · BRAF_mut")."""
    x_title = "Change in the calibrated probability<br>(percentage points)"
    y_title = "Feature = this sample's value"
    if not explanation or "base_value" not in explanation:
        return _empty("Why the model gave this class", x_title, y_title, "No explanation to show.")
    cls, top = str(explanation["class"]), list(explanation.get("top") or [])
    predicted = str(explanation.get("predicted_class") or cls)
    n_rest = int(explanation.get("n_rest") or 0)
    probability = float(explanation["probability"])
    start = float(explanation.get("probability_base", explanation["base_value"]))
    space = str(explanation.get("output_space", "model output")).split(" (")[0]  # short: no parenthesis
    named = [feature_labels.resolve(c["feature"], c.get("group"), labels) for c in top]
    base_label = "average sample (the model's base)"
    ticks = [base_label] + [f"{n.label} = {_compact(c['value'])}" for n, c in zip(named, top)]
    labels = [base_label] + [f"{c['feature']} = {_compact(c['value'])}" for c in top]
    values = [start] + [float(c.get("effect", c["shap"])) for c in top]
    hover = [f"<b>start</b>: probability of {cls} {_probability(start)}<br>for the model's average output"] + [
        f"<b>{n.hover}</b> ({c['group']})<br>this sample's value: {_compact(c['value'])}"
        f"<br>{_points(float(c.get('effect', c['shap'])))} on the probability of {cls} "
        f"({'toward' if c.get('effect', c['shap']) >= 0 else 'away from'} {cls})"
        f"<br>SHAP value {float(c['shap']):+.4g} ({space})" for n, c in zip(named, top)]
    if n_rest > 0:
        rest = float(explanation.get("rest_effect", explanation.get("rest") or 0.0))
        labels.append(f"other {n_rest:,} features")
        ticks.append(labels[-1])
        values.append(rest)
        hover.append(f"<b>the other {n_rest:,} features</b>, together<br>{_points(rest)} on the probability"
                     f"<br>summed SHAP value {float(explanation.get('rest') or 0.0):+.4g}")
    step_label = explanation.get("calibration_label")
    if step_label:
        step = float(explanation.get("calibration_step") or 0.0)
        labels.append(str(step_label))
        ticks.append(labels[-1])
        values.append(step)
        hover.append(f"<b>{step_label}</b><br>{_points(step)}: from the {space} "
                     f"({_probability(probability - step)}) to the calibrated probability")
    labels.append(f"probability of {cls}")
    ticks.append(labels[-1])
    values.append(probability)
    hover.append(f"<b>calibrated probability of {cls}</b>: {_probability(probability)}")
    measures = ["absolute"] + ["relative"] * (len(values) - 2) + ["total"]
    fig = go.Figure(go.Waterfall(
        orientation="h", y=labels, x=values, measure=measures, base=0,
        text=[_probability(v) if m != "relative" else _points(v) for v, m in zip(values, measures)],
        textposition="outside", cliponaxis=False, customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        increasing={"marker": {"color": PUSHES_TOWARD}}, decreasing={"marker": {"color": PUSHES_AWAY}},
        totals={"marker": {"color": TOTAL}}, connector={"line": {"color": "#c7cdd6", "width": 1}},
    ))
    sample = explanation.get("sample", "")
    if cls == predicted:
        title = f"Why sample {sample} is {cls}: contribution of each feature"
        lead = f"Probability of {cls}: {_probability(probability)}."
    else:
        title = f"What speaks for and against {cls}"
        lead = (f"Sample {sample} is predicted {predicted}; the probability of {cls} is "
                f"{_probability(probability)}.")
    how = (f"Bars: the random forest's own probability (SHAP values), then its {step_label}."
           if step_label else
           "Bars: how much each feature moves the probability, features added largest first "
           f"(SHAP values in {space}, in the hover).")
    two_lines = any(len(t) > TICK_WIDTH for t in ticks)
    _layout(fig, title, x_title, y_title, height=max(360, 190 + (34 if two_lines else 26) * len(labels)),
            showlegend=False,
            subtitle=f"{lead} Red pushes toward {cls}, blue away from it.<br>{how}")
    fig.update_layout(margin_r=80)  # room for the values written beside the bars
    fig.update_xaxes(tickformat=".0%")
    _feature_ticks(fig, labels, ticks)
    fig.update_yaxes(autorange="reversed")
    return fig


def group_contributions_figure(group_sums: dict, class_name: str) -> go.Figure:
    """The summed SHAP value of each feature group, largest effect on top, red toward the class. With
    one group only, a sentence gives its sum (one bar compares nothing)."""
    title = f"Contribution of each feature group to {class_name}"
    x_title = "Summed SHAP value of the group's features"
    items = sorted(((str(g), float(v)) for g, v in (group_sums or {}).items()), key=lambda kv: (-abs(kv[1]), kv[0]))
    if not items:
        return _empty(title, x_title, "Feature group", "No feature groups to show.")
    if len(items) == 1:
        (group, value), = items
        return _empty(title, x_title, "Feature group",
                      f"All features belong to one group ({group}): together they push "
                      f"{'toward' if value >= 0 else 'away from'} {class_name}<br>"
                      f"(summed SHAP value {value:+.4g}). There are no groups to compare.")
    names, values = [g for g, _ in items], [v for _, v in items]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", text=[f"{v:+.3g}" for v in values], textposition="auto",
        marker={"color": [PUSHES_TOWARD if v >= 0 else PUSHES_AWAY for v in values]},
        customdata=["toward" if v >= 0 else "away from" for v in values],
        hovertemplate=f"<b>%{{y}}</b><br>summed SHAP value %{{x:+.4g}}<br>pushes %{{customdata}} {class_name}"
                      "<extra></extra>",
    ))
    _layout(fig, title, x_title, "Feature group", showlegend=False, height=max(300, 190 + 40 * len(names)),
            subtitle=f"Red pushes toward {class_name}, blue away from it.")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    fig.update_xaxes(zeroline=True, zerolinecolor="#7f7f7f", zerolinewidth=1.5)
    return fig


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most about `width` characters, broken at spaces."""
    lines, line = [], ""
    for word in str(text).split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]


def _binary_panel(fig: go.Figure, item: dict, values: np.ndarray, class_name: str, row: int, col: int,
                  name: str) -> None:
    ones = int((values >= 0.5).sum())
    counts = [len(values) - ones, ones]
    own = None if item.get("value") is None else int(float(item["value"]) >= 0.5)
    fig.add_trace(go.Bar(
        x=["0", "1"], y=[c / len(values) for c in counts], showlegend=False,
        text=[f"{c / len(values):.0%}" + (" (this sample)" if k == own else "") for k, c in enumerate(counts)],
        textposition="outside", cliponaxis=False,
        marker={"color": [CONFIDENT if k == own else "#c6dbef" for k in (0, 1)],
                "line": {"color": [BOTH if k == own else "#ffffff" for k in (0, 1)], "width": 2.5}},
        customdata=[[c, len(values), " (this sample)" if k == own else ""] for k, c in enumerate(counts)],
        hovertemplate=(f"<b>{name}</b><br>value %{{x}}%{{customdata[2]}}<br>%{{customdata[0]}} of "
                       f"%{{customdata[1]}} training samples of {class_name} (%{{y:.1%}})<extra></extra>"),
    ), row=row, col=col)
    fig.update_xaxes(type="category", title_text="value", row=row, col=col)
    fig.update_yaxes(range=[0, 1.15], tickvals=[0, 0.5, 1], tickformat=".0%", title_text="share of samples",
                     row=row, col=col)


def _continuous_panel(fig: go.Figure, item: dict, values: np.ndarray, class_name: str, row: int, col: int,
                      name: str) -> None:
    fig.add_trace(go.Box(x=values, name=class_name, orientation="h", boxpoints="outliers", showlegend=False,
                         marker={"color": CONFIDENT, "size": 3}, line={"color": CONFIDENT},
                         hovertemplate=f"{name}: %{{x}}<extra></extra>"), row=row, col=col)
    value = item.get("value")
    if value is not None:
        below = float((values <= float(value)).mean())
        fig.add_vline(float(value), line={"color": BOTH, "width": 2}, row=row, col=col)
        fig.add_trace(go.Scatter(
            x=[float(value)], y=[class_name], mode="markers", showlegend=False,
            marker={"color": BOTH, "size": 11, "symbol": "diamond", "line": {"color": "#ffffff", "width": 1}},
            hovertemplate=(f"<b>{name}</b><br>this sample: {_compact(value)}<br>at or above {below:.0%} of the "
                           f"{len(values):,} training samples of {class_name}<extra></extra>"),
        ), row=row, col=col)
    # read counts are skewed: a log scale when every value is positive and the largest is more than
    # SKEWED_RATIO times the smallest (a log axis cannot place a zero)
    log = float(values.min()) > 0 and (value is None or float(value) > 0) and is_skewed(values)
    fig.update_xaxes(title_text="value" + (LOG_SCALE if log else ""), row=row, col=col,
                     **({"type": "log", "dtick": 1} if log else {}))
    fig.update_yaxes(showticklabels=False, row=row, col=col)


CONTEXT_TITLE_WIDTH = 34  # characters a line in a panel title (a third of the figure's width)


def feature_context_figure(items: list[dict], class_name: str, *,
                           labels: Mapping[str, feature_labels.FeatureLabel | str] | None = None) -> go.Figure:
    """Small multiples, one per feature (up to 12, 3 per row): the sample's value beside the values of
    the training samples of `class_name`; a box for continuous features, shares of 0 and 1 for binary.
    Each panel is titled with the feature's readable label and the sample's value (`engine.feature_labels`,
    from the feature's group, or as given in `labels`: raw id -> label), on at most two lines; the
    panel's hover gives the label and the raw id ("BRAF mutation · BRAF_mut"). A feature without a
    readable label is titled "raw id (group): value", as before."""
    title = f"The sample's values beside the training samples of {class_name}"
    shown = list(items or [])[:MAX_CONTEXT_PANELS]
    if not shown:
        return _empty(title, "value", "training samples", "No features to show.")
    cols = min(CONTEXT_COLUMNS, len(shown))
    rows = math.ceil(len(shown) / cols)
    named = [feature_labels.resolve(it["feature"], it.get("group"), labels) for it in shown]
    titles = []
    for n, it in zip(named, shown):
        head = n.label if n.known else f"{n.id} ({it['group']})"
        value = _compact(it.get("value"))
        lines = _wrap(f"{head}: {value}", CONTEXT_TITLE_WIDTH)
        if len(lines) > 2:  # at most two lines, the value always shown: the rest of the label is in the hover
            rest = " ".join(lines[1:])[:-len(value) - 2]
            lines = [lines[0], rest[:CONTEXT_TITLE_WIDTH - len(value) - 3].rstrip() + f"…: {value}"]
        titles.append("<br>".join(lines))
    title_lines = max(t.count("<br>") + 1 for t in titles)
    plot_height = 250 * rows
    spacing = min((0.5 + 0.12 * (title_lines - 1)) / rows, 0.2)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.1, vertical_spacing=spacing,
                        subplot_titles=titles)
    kinds = {it.get("kind") for it in shown}
    parts = ([f"Boxes: the training samples of {class_name} (box: middle half, line: median); red line and "
              "diamond: this sample."] if kinds - {"binary"} else []) + \
        ([f"Bars: share of the training samples of {class_name} with 0 and with 1; this sample's value is "
          "outlined."] if "binary" in kinds else [])
    subtitle = "<br>".join(parts + ["Hover a panel for the feature's id; a value axis of skewed positive counts "
                                     f"(largest over {SKEWED_RATIO} times the smallest) is on a log scale."
                                     if kinds - {"binary"} else "Hover a panel for the feature's id."])
    if len(items) > len(shown):
        subtitle += f" First {len(shown)} of {len(items)} features."
    _layout(fig, title, "value", "", subtitle=subtitle, height=160 + 14 * (title_lines - 1) + plot_height,
            showlegend=False)
    # room for the subtitle above the first row's panel titles
    fig.update_layout(margin_t=77 + 18 * (subtitle.count("<br>") + 1) + 14 * title_lines + 8)
    for k, (item, name) in enumerate(zip(shown, named)):
        row, col = k // cols + 1, k % cols + 1
        values = np.asarray(item.get("training_values") or [], dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            axis = "" if k == 0 else str(k + 1)
            fig.add_annotation(text=f"no training values<br>({name.id})", x=0.5, y=0.5, showarrow=False,
                               xref=f"x{axis} domain", yref=f"y{axis} domain", font={"color": "#5b6b7f"})
        elif item.get("kind") == "binary":
            _binary_panel(fig, item, values, class_name, row, col, name.hover)
        else:
            _continuous_panel(fig, item, values, class_name, row, col, name.hover)
    fig.update_annotations(font_size=11)
    return fig


# --- agreement with uploaded labels -----------------------------------------------------------------

def label_confusion_figure(agreement: dict) -> go.Figure:
    """The confusion matrix of `engine.metrics.label_agreement`: uploaded labels (rows) against the
    predictions (columns), on the classes that were uploaded or predicted at least once."""
    title = "Predicted classes against the uploaded labels"
    confusion = (agreement or {}).get("confusion_matrix") or {}
    counts = np.asarray(confusion.get("counts") or [], dtype=int)
    if not agreement or not agreement.get("n"):
        return _empty(title, "Predicted class", "Uploaded label", "No sample has a label among the model's classes.")
    labels = list(confusion["labels"])
    keep = [k for k in range(len(labels)) if counts[k, :].sum() or counts[:, k].sum()]
    fig = confusion_matrix_figure({"labels": [labels[k] for k in keep],
                                   "counts": counts[np.ix_(keep, keep)].tolist()})
    heatmap = fig.data[0]
    heatmap.customdata = [[text.replace("True:", "Uploaded label:").replace("of true", "labelled")
                           .replace("no held-out samples of", "no uploaded samples labelled") for text in row]
                          for row in heatmap.customdata]
    unknown = int(agreement.get("n_unknown_labels") or 0)
    subtitle = (f"{agreement['n']:,} samples with a label among the model's classes: accuracy "
                f"{agreement['accuracy']:.1%}, balanced accuracy {agreement['balanced_accuracy']:.1%}. "
                "The diagonal counts agreement.")
    if unknown:
        subtitle += (f"<br>{unknown:,} sample{'s' if unknown != 1 else ''} with a missing or unknown label "
                     f"{'are' if unknown != 1 else 'is'} left out.")
    if len(keep) < len(labels):
        subtitle += f" {len(labels) - len(keep)} classes neither uploaded nor predicted are not shown."
    fig.update_layout(title={"text": title, "subtitle": {"text": subtitle}}, yaxis_title_text="Uploaded label")
    return fig
