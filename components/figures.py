"""Figures and table rows for a model version, built from its metadata.

Every function here is pure: plain data in (the dicts that `engine.metrics.evaluate` and
`engine.explain.global_importance` store in metadata.json), a `plotly.graph_objects.Figure` or a list
of row dicts out. No database, no registry, no global state, so pages can call them in callbacks and
tests can check them without a browser.

Conventions: every figure has a title, axis titles and hover text with exact values; sequential data
uses one sequential colour scale (Blues), categories use a qualitative palette, and a class or feature
group keeps the same colour across figures. With more classes than the palette has colours, a class is
told by its colour and its marker symbol (or line dash) together (`class_styles`). Legends sit right of
the plot area (vertical) or below it (horizontal), never over the title. Count axes switch to a log
scale when the counts are skewed (`is_skewed`). A chart that would show one bar is a sentence instead.
Features are shown by their readable label (`engine.feature_labels`, from the feature's group) with the
raw id in the hover. Curves are drawn from the already thinned points stored in the metadata (at most
101 per curve), so figures stay light.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from engine import feature_labels
from engine.headline import HEADLINE_METRICS

FONT = {"family": "Inter, 'Helvetica Neue', Arial, sans-serif", "size": 13, "color": "#2a3f5f"}
SEQUENTIAL = "Blues"
REFERENCE_LINE = {"color": "#7f7f7f", "width": 1.5, "dash": "dash"}
ANNOTATE_MAX_CLASSES = 10  # confusion matrices up to this size show their values in the cells

# Legends never cover the title: a vertical legend sits right of the plot area, its top level with the
# plot's top; a horizontal one sits at the figure's bottom edge, below the x axis title, in a bottom
# margin made for it (room for two rows of entries when a narrow column wraps them).
LEGEND_RIGHT = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top", "yref": "paper"}
LEGEND_BELOW = {"orientation": "h", "x": 0.0, "xanchor": "left", "y": 0.0, "yanchor": "bottom", "yref": "container"}
BOTTOM_MARGIN, LEGEND_BELOW_MARGIN = 60, 120
_LEGEND_PLACE = ("orientation", "x", "xanchor", "y", "yanchor", "xref", "yref")

# Count axes: a log scale when the largest count is more than SKEWED_RATIO times the smallest nonzero one.
SKEWED_RATIO = 20
LOG_SCALE = " (log scale)"


# --- shared helpers ---------------------------------------------------------------------------------

def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, *, subtitle: str | None = None,
            height: int | None = None, x_axis: str = "xaxis", **layout) -> go.Figure:
    """The common look of every figure: template, font, margins, title (and subtitle), axis titles.
    `x_axis` names the axis that carries the x title (the bottom one when panels share x).
    A `legend` with orientation "h" is put below the plot, any other right of it, whatever position
    it asks for: no legend can cover the title."""
    legend = dict(layout.pop("legend", None) or {})
    below = legend.get("orientation") == "h"
    legend = {**{k: v for k, v in legend.items() if k not in _LEGEND_PLACE},
              **(LEGEND_BELOW if below else LEGEND_RIGHT)}
    top = 77 + 18 * (subtitle.count("<br>") + 1) if subtitle else 65  # room for every line of the subtitle
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        margin={"l": 70, "r": 30, "t": top, "b": LEGEND_BELOW_MARGIN if below else BOTTOM_MARGIN},
        title={"text": title, "x": 0.01, "xanchor": "left",
               **({"subtitle": {"text": subtitle, "font": {"size": 12, "color": "#5b6b7f"}}} if subtitle else {})},
        hoverlabel={"font_size": 12},
        height=height,
        legend=legend,
        yaxis={"title": {"text": y_title}, "automargin": True},
        **{x_axis: {"title": {"text": x_title}, "automargin": True}},
        **layout,
    )
    return fig


def is_skewed(counts) -> bool:
    """Whether counts call for a log scale: the largest is more than SKEWED_RATIO times the smallest
    nonzero one (zeros are ignored; fewer than two nonzero counts are never skewed)."""
    nonzero = [float(c) for c in counts if c and float(c) > 0]
    return len(nonzero) >= 2 and max(nonzero) > SKEWED_RATIO * min(nonzero)


def _count_axis(fig: go.Figure, counts, axis: str = "xaxis") -> bool:
    """Make `axis` (a layout key such as "xaxis" or "yaxis2", whose title is set) a count axis: on a
    log scale when the counts are skewed (`is_skewed`; its title then ends in " (log scale)"), from
    zero otherwise, with ticks at the powers of ten. Returns whether it is on a log scale."""
    log = is_skewed(counts)
    if log:  # from half the smallest count, so that a bar of one sample still shows
        nonzero = [float(c) for c in counts if c and float(c) > 0]
        fig.layout[axis].update(type="log", dtick=1,
                                range=[math.log10(min(nonzero) / 2), math.log10(max(nonzero) * 1.15)],
                                title={"text": (fig.layout[axis].title.text or "") + LOG_SCALE})
    else:
        fig.layout[axis].update(rangemode="tozero")
    return log


def _note(fig: go.Figure, text: str) -> go.Figure:
    """A centred message for a figure without data (it still has its title and axes)."""
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 14, "color": "#5b6b7f"})
    return fig


# Many classes: colour alone cannot tell 23 tissues apart, so each class gets a (colour, symbol) pair,
# or (colour, line dash) on curves: 10 colour-blind-safe colours, then the next symbol or dash.
FEW_COLOURS = tuple(qualitative.Safe)  # up to 11 names: one colour each, circles and solid lines
MANY_COLOURS = tuple(qualitative.Safe[:10])  # more: without Safe's grey, which the figures keep for context
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "triangle-down", "star", "pentagon",
           "hexagon")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


@dataclass(frozen=True)
class ClassStyle:
    """How one class (or feature group) is drawn in every figure."""

    colour: str
    symbol: str = "circle"
    dash: str = "solid"


def class_styles(names) -> dict[str, ClassStyle]:
    """A fixed style per name, by sorted name (case-insensitive), so a class looks the same in every
    figure. Up to 11 names: one colour-blind-safe colour each (circles, solid lines). More: 10 colours
    times SYMBOLS (and DASHES for lines), name k getting colour k mod 10 and symbol k div 10, so every
    name up to 100 (60 for dashes) has a pair of its own."""
    ordered = sorted(set(names), key=lambda s: (str(s).casefold(), str(s)))
    if len(ordered) <= len(FEW_COLOURS):
        return {name: ClassStyle(FEW_COLOURS[i]) for i, name in enumerate(ordered)}
    n = len(MANY_COLOURS)
    return {name: ClassStyle(MANY_COLOURS[i % n], SYMBOLS[(i // n) % len(SYMBOLS)], DASHES[(i // n) % len(DASHES)])
            for i, name in enumerate(ordered)}


def _palette(n: int) -> list[str]:
    """The colours used for `n` names (see `class_styles`)."""
    return list(FEW_COLOURS if n <= len(FEW_COLOURS) else MANY_COLOURS)


def _colours(names) -> dict[str, str]:
    """A fixed colour per name (by sorted name), so a class or group looks the same in every figure.
    With more than 11 names colours repeat: draw markers with `class_styles` symbols too."""
    return {name: style.colour for name, style in class_styles(names).items()}


def _chance_diagonal(fig: go.Figure, name: str) -> None:
    """The y = x reference line, as a shape (not a trace) that still appears in the legend."""
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, xref="x", yref="y", line=REFERENCE_LINE,
                  layer="below", showlegend=True, name=name)


def _number(value) -> float | None:
    """A finite float, or None for missing / NaN values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --- classification quality -------------------------------------------------------------------------

def confusion_matrix_figure(confusion: dict, normalise: bool = False) -> go.Figure:
    """Heatmap of held-out predictions: rows are the true class, columns the predicted class.

    With `normalise`, each cell is the share of its row (so the diagonal is each class's recall) on a
    fixed 0..1 scale; a class without held-out samples has an empty row rather than NaN. Cell values
    are written in the cells for up to ANNOTATE_MAX_CLASSES classes, otherwise shown on hover only."""
    labels = [str(c) for c in confusion["labels"]]
    counts = [[int(v) for v in row] for row in confusion["counts"]]
    n = len(labels)
    if len(counts) != n or any(len(row) != n for row in counts):
        raise ValueError(f"confusion matrix must be {n} x {n} for {n} labels")
    row_totals = [sum(row) for row in counts]

    z, text, hover = [], [], []
    for t, (row, total) in enumerate(zip(counts, row_totals)):
        z_row, text_row, hover_row = [], [], []
        for p, count in enumerate(row):
            share = count / total if total else None
            where = f"True: {labels[t]}<br>Predicted: {labels[p]}<br>"
            if total:
                hover_row.append(f"{where}{count} of {total} samples ({share:.1%} of true {labels[t]})")
            else:
                hover_row.append(f"{where}no held-out samples of {labels[t]}")
            if normalise:
                z_row.append(None if share is None else round(share, 6))
                text_row.append("" if share is None else f"{share:.2f}")
            else:
                z_row.append(count)
                text_row.append(str(count))
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)

    annotate = n <= ANNOTATE_MAX_CLASSES
    heatmap = go.Heatmap(
        z=z, x=labels, y=labels, customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorscale=SEQUENTIAL, xgap=1, ygap=1,
        colorbar={"title": {"text": "share of row" if normalise else "samples"},
                  **({"tickformat": ".0%"} if normalise else {})},
        **({"zmin": 0.0, "zmax": 1.0} if normalise else {"zmin": 0}),
        **({"text": text, "texttemplate": "%{text}"} if annotate else {}),
    )
    fig = go.Figure(heatmap)
    subtitle = (f"Held-out samples, {sum(row_totals)} in total. "
                + ("Each row sums to 1: the diagonal is the recall of that class."
                   if normalise else "The diagonal counts correct predictions."))
    _layout(fig, "Confusion matrix" + (" (share of each true class)" if normalise else " (counts)"),
            "Predicted class", "True class", subtitle=subtitle, height=max(440, 190 + 24 * n))
    fig.update_xaxes(type="category", tickangle=-45 if n > 6 else 0, side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")  # first class at the top, as in a table
    return fig


CURVES_SHOWN = 6  # beyond this many classes, curves are drawn for the chosen ones only (a tangle otherwise)
OTHER_CURVE = {"color": "#d3d8de", "width": 1}


def curve_classes(curves: dict, score: str, chosen=None) -> list[str]:
    """The classes whose curves are drawn in colour: all of them up to CURVES_SHOWN; beyond, the chosen
    ones (that exist), or by default the CURVES_SHOWN // 2 best and worst by `score` (AUC or AP)."""
    ranked = [name for name, _ in sorted(curves.items(), key=lambda kv: (-kv[1][score], str(kv[0])))]
    if len(ranked) <= CURVES_SHOWN:
        return ranked
    if chosen:
        return [name for name in ranked if name in set(chosen)]
    half = CURVES_SHOWN // 2
    return ranked[:half] + ranked[-half:]


def macro_average_curve(curves: dict, x_key: str, y_key: str, grid_points: int = 101) -> tuple[list, list]:
    """The mean over classes of each class's curve, interpolated on a common x grid (the macro average
    of one-vs-rest curves, as scikit-learn's documentation draws it). Curves must rise in x (ROC's false
    positive rate) or fall in it (PR's recall): both are sorted before interpolating."""
    grid = np.linspace(0.0, 1.0, grid_points)
    ys = []
    for curve in curves.values():
        x, y = np.asarray(curve[x_key], dtype=float), np.asarray(curve[y_key], dtype=float)
        order = np.argsort(x, kind="stable")
        ys.append(np.interp(grid, x[order], y[order]))
    mean = np.mean(ys, axis=0) if ys else np.zeros_like(grid)
    return grid.round(6).tolist(), mean.round(6).tolist()


def _one_vs_rest_figure(curves: dict, chosen, *, x_key: str, y_key: str, score: str, score_name: str,
                        what: tuple[str, str]) -> tuple[go.Figure, bool, int]:
    """(figure, whether there are many classes, how many are in colour). One-vs-rest curves: with few
    classes one coloured line each; with many, the chosen classes in colour, the others as thin grey lines
    for context, and the macro average in black."""
    styles = class_styles(curves)
    shown = curve_classes(curves, score, chosen)
    fig = go.Figure()
    many = len(curves) > CURVES_SHOWN
    if many:
        for name, curve in sorted(curves.items(), key=lambda kv: str(kv[0])):
            if name not in shown:
                fig.add_trace(go.Scatter(x=list(curve[x_key]), y=list(curve[y_key]), mode="lines",
                                         line=OTHER_CURVE, name=str(name), showlegend=False,
                                         hovertemplate=f"{name} ({score_name} {curve[score]:.3f})<extra></extra>"))
        grid, mean = macro_average_curve(curves, x_key, y_key)
        fig.add_trace(go.Scatter(x=grid, y=mean, mode="lines", name="macro average",
                                 line={"color": "#111111", "width": 3},
                                 hovertemplate="macro average<br>%{x:.3f}, %{y:.3f}<extra></extra>"))
    for name in shown:
        curve = curves[name]
        fig.add_trace(go.Scatter(
            x=list(curve[x_key]), y=list(curve[y_key]), mode="lines",
            name=f"{name} ({score_name} {curve[score]:.2f})",
            line={"color": styles[name].colour, "width": 2, "dash": styles[name].dash},
            hovertemplate=(f"<b>{name}</b> ({score_name} {curve[score]:.3f})<br>{what[0]} %{{x:.3f}}"
                           f"<br>{what[1]} %{{y:.3f}}<extra></extra>"),
        ))
    return fig, many, len(shown)


def roc_curves_figure(roc: dict, chosen=None) -> go.Figure:
    """One-vs-rest ROC curve per class (best AUC first in the legend) with the dashed chance line; with
    more than CURVES_SHOWN classes, the chosen classes (default: the best and worst) over the others in
    grey and the macro average."""
    fig, many, n_shown = _one_vs_rest_figure(roc, chosen, x_key="fpr", y_key="tpr", score="auc", score_name="AUC",
                                             what=("false positive rate", "true positive rate"))
    _chance_diagonal(fig, "chance (AUC 0.50)")
    if not roc:
        _note(fig, "No ROC curves: no class has held-out samples.")
    subtitle = "Held-out samples. The dashed line is a classifier that guesses."
    if many:
        subtitle = (f"Held-out samples. {n_shown} of {len(roc)} classes in colour (choose others above), the rest "
                    "in grey; black: the macro average. Dashed: guessing.")
    _layout(fig, "ROC curves, one class against the rest",
            "False positive rate (1 − specificity)", "True positive rate (sensitivity)", subtitle=subtitle,
            height=max(480, 160 + 24 * (n_shown + 2)), legend={"title": {"text": "class (AUC)"}})
    fig.update_xaxes(range=[0, 1], constrain="domain")
    fig.update_yaxes(range=[0, 1.02])
    return fig


def precision_recall_figure(pr: dict, chosen=None) -> go.Figure:
    """One-vs-rest precision-recall curve per class (best average precision first in the legend); with
    many classes drawn as roc_curves_figure draws them."""
    fig, many, n_shown = _one_vs_rest_figure(pr, chosen, x_key="recall", y_key="precision",
                                             score="average_precision", score_name="AP",
                                             what=("recall", "precision"))
    if not pr:
        _note(fig, "No precision-recall curves: no class has held-out samples.")
    subtitle = "Held-out samples. AP = average precision, the area under each curve."
    if many:
        subtitle = (f"Held-out samples. {n_shown} of {len(pr)} classes in colour (choose others above), the rest "
                    "in grey; black: the macro average. AP = average precision.")
    _layout(fig, "Precision-recall curves, one class against the rest",
            "Recall (sensitivity)", "Precision (positive predictive value)", subtitle=subtitle,
            height=max(480, 160 + 24 * (n_shown + 2)), legend={"title": {"text": "class (AP)"}})
    fig.update_xaxes(range=[0, 1.0], constrain="domain")
    fig.update_yaxes(range=[0, 1.02])
    return fig


def calibration_figure(calibration: dict) -> go.Figure:
    """Reliability diagram of the top-class probability: accuracy against mean confidence per bin with
    the perfect-calibration diagonal (top panel), and the number of samples per bin (bottom panel,
    same x axis; on a log scale when the largest bin holds more than SKEWED_RATIO times the smallest
    nonzero one, as its axis title says). ECE and Brier score are in the subtitle."""
    curve = list(calibration.get("curve") or [])
    ece, brier = _number(calibration.get("expected_calibration_error")), _number(calibration.get("brier_score"))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.04)
    bins = [f"{b['bin_low']:.1f}–{b['bin_high']:.1f}" for b in curve]
    counts = [int(b["count"]) for b in curve]
    fig.add_trace(go.Scatter(
        x=[b["mean_confidence"] for b in curve], y=[b["accuracy"] for b in curve],
        mode="lines+markers", name="model", line={"color": "#08519c", "width": 2},
        marker={"size": 9, "color": "#08519c"},
        customdata=[[label, count] for label, count in zip(bins, counts)],
        hovertemplate=("confidence bin %{customdata[0]} (%{customdata[1]} samples)<br>"
                       "mean confidence %{x:.3f}<br>accuracy %{y:.3f}<extra></extra>"),
    ), row=1, col=1)
    fig.add_trace(go.Bar(
        x=[(b["bin_low"] + b["bin_high"]) / 2 for b in curve], y=counts,
        width=[b["bin_high"] - b["bin_low"] for b in curve], name="samples per bin",
        marker={"color": "#9ecae1", "line": {"color": "#ffffff", "width": 1}},
        customdata=bins, hovertemplate="confidence %{customdata}<br>%{y} samples<extra></extra>",
    ), row=2, col=1)
    _chance_diagonal(fig, "perfect calibration")
    if not curve:
        _note(fig, "No calibration data.")
    parts = []
    if ece is not None:
        parts.append(f"expected calibration error (ECE) {ece:.3f}")
    if brier is not None:
        parts.append(f"Brier score {brier:.3f}")
    subtitle = ("Held-out samples: " + ", ".join(parts) + "." if parts else "Held-out samples.") + \
        " Points on the diagonal are perfectly calibrated."
    _layout(fig, "Calibration of the predicted class's probability",
            "Mean confidence (probability of the predicted class)", "Accuracy (share correct)",
            subtitle=subtitle, height=560, x_axis="xaxis2", bargap=0, legend={"orientation": "h"})
    fig.update_xaxes(range=[0, 1])
    fig.update_layout(yaxis_range=[0, 1.02], yaxis2={"title": {"text": "samples"}, "automargin": True})
    _count_axis(fig, counts, "yaxis2")
    return fig


def accuracy_coverage_figure(curve: dict, selective: dict) -> go.Figure:
    """Accuracy on the samples the model keeps against the share it keeps (coverage), as the
    confidence threshold falls; the abstain threshold of this version is marked."""
    coverage, accuracy = list(curve.get("coverage") or []), list(curve.get("accuracy") or [])
    thresholds = list(curve.get("threshold") or [])
    fig = go.Figure(go.Scatter(
        x=coverage, y=accuracy, customdata=thresholds, mode="lines", name="all thresholds",
        line={"color": "#08519c", "width": 2},
        hovertemplate=("confidence ≥ %{customdata:.3f}<br>keeps %{x:.1%} of samples"
                       "<br>accuracy on them %{y:.3f}<extra></extra>"),
    ))
    threshold = _number(selective.get("abstain_threshold"))
    kept = _number(selective.get("coverage"))
    kept_accuracy = _number(selective.get("accuracy_on_covered"))
    # y range with a free band under the lowest point of the curve, where the label goes
    ys = [v for v in accuracy + [kept_accuracy] if v is not None] or [0.0, 1.0]
    low, high = min(ys), max(ys)
    span = max(high - low, 0.02)
    y_range = [low - 0.15 * span, high + 0.04 * span]
    if threshold is not None and kept is not None:
        fig.add_vline(x=kept, line={"color": "#d62728", "width": 1.5, "dash": "dot"})
        if kept_accuracy is not None:
            text = f"abstain below confidence {threshold:.2f}: keeps {kept:.1%} at accuracy {kept_accuracy:.2f}"
            fig.add_trace(go.Scatter(
                x=[kept], y=[kept_accuracy], mode="markers", name="abstain threshold",
                marker={"symbol": "diamond", "size": 13, "color": "#d62728", "line": {"color": "white", "width": 1}},
                hovertemplate=(f"abstain threshold: confidence {threshold:.3f}<br>keeps %{{x:.1%}} of samples"
                               "<br>accuracy on them %{y:.3f}<extra></extra>"),
            ))
            point = kept_accuracy
        else:
            text = f"abstain below confidence {threshold:.2f}: no held-out sample reaches it (keeps {kept:.1%})"
            point = low - 0.075 * span
        # accuracy usually falls with coverage, so the band under the curve is free; the label sits
        # there, on the side of the marker with more room, with a line to the marker
        right_side = kept <= 0.5
        fig.add_annotation(x=kept, y=point, ax=kept + (0.03 if right_side else -0.03), ay=low - 0.075 * span,
                           axref="x", ayref="y", text=text, showarrow=True, arrowhead=0,
                           arrowcolor="#d62728", xanchor="left" if right_side else "right",
                           bgcolor="rgba(255,255,255,0.85)", font={"size": 12})
    if not coverage:
        _note(fig, "No accuracy-coverage data.")
    _layout(fig, "Accuracy against coverage when the model abstains on low confidence",
            "Coverage (share of samples given a prediction)", "Accuracy on the samples kept",
            subtitle="Held-out samples, most confident first. Hover for the confidence threshold of each point.",
            height=480, showlegend=True, legend={"orientation": "h"})
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(range=y_range)
    return fig


# --- explanations -----------------------------------------------------------------------------------

TICK_WIDTH = 40  # characters: a longer tick label is broken onto two lines


def _tick_text(text: str, width: int = TICK_WIDTH) -> str:
    """`text` on two lines (broken at the space nearest its middle) when longer than `width`."""
    text = str(text)
    if len(text) <= width or " " not in text:
        return text
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return text[:cut] + "<br>" + text[cut + 1:]


def _feature_ticks(fig: go.Figure, ids: list[str], texts: list[str], axis: str = "yaxis") -> bool:
    """Category axis `axis` keeps the raw ids as its categories (in this order) and shows `texts`,
    long ones on two lines. Returns whether any label takes two lines."""
    shown = [_tick_text(t) for t in texts]
    fig.layout[axis].update(type="category", categoryorder="array", categoryarray=ids,
                            tickmode="array", tickvals=ids, ticktext=shown)
    return any("<br>" in t for t in shown)


def feature_importance_figure(importance: dict, top: int = 20, *,
                              labels: Mapping[str, "feature_labels.FeatureLabel | str"] | None = None) -> go.Figure:
    """The `top` features by mean |SHAP value| as horizontal bars, largest on top, coloured by group.

    Bars are keyed by the raw feature id (the y categories) and the axis shows each feature's readable
    label (`engine.feature_labels`, from its group, or as given in `labels`: raw id -> label); the
    hover gives both ("BRAF mutation · BRAF_mut"). A single bar would compare nothing: with one
    feature to show, the figure says which it is instead."""
    if top < 1:
        raise ValueError("top must be at least 1")
    features = sorted(importance.get("features") or [], key=lambda f: -f["mean_abs_shap"])
    shown = features[:top]
    colours = _colours(list(importance.get("groups") or {}) + [f["group"] for f in features])
    rank = {f["feature"]: i + 1 for i, f in enumerate(features)}
    named = {f["feature"]: feature_labels.resolve(f["feature"], f["group"], labels) for f in shown}
    fig = go.Figure()
    for group in sorted({f["group"] for f in shown}, key=lambda g: (str(g).casefold(), str(g))):
        rows = [f for f in shown if f["group"] == group]
        fig.add_trace(go.Bar(
            x=[f["mean_abs_shap"] for f in rows], y=[f["feature"] for f in rows], orientation="h",
            name=group, marker={"color": colours[group]},
            customdata=[[f["group"], rank[f["feature"]], named[f["feature"]].hover] for f in rows],
            hovertemplate=("<b>%{customdata[2]}</b> (%{customdata[0]})<br>mean |SHAP value| %{x:.4g}"
                           f"<br>rank %{{customdata[1]}} of {len(features)}<extra></extra>"),
        ))
    if not shown:
        _note(fig, "No feature importance recorded.")
    elif len(shown) == 1:  # one bar compares nothing: say it
        only = shown[0]
        fig.data = ()
        _note(fig, f"The most influential feature: {named[only['feature']].hover} ({only['group']}),<br>"
                   f"mean |SHAP value| {only['mean_abs_shap']:.4g}. Show more features to compare them.")
    space = importance.get("output_space", "model output")
    n_samples = importance.get("n_samples")
    subtitle = (f"Top {len(shown)} of {len(features)} features, averaged over classes"
                + (f" and {n_samples} held-out samples" if n_samples else "")
                + f".<br>Explained output: {space}. Hover a bar for the feature's id.")
    ids = [f["feature"] for f in shown]
    two_lines = any(len(named[i].label) > TICK_WIDTH for i in ids)
    _layout(fig, "Most influential features (global SHAP importance)",
            "mean |SHAP value|", "Feature", subtitle=subtitle,
            height=max(400, 170 + (30 if two_lines else 22) * len(shown)),
            barmode="overlay", legend={"title": {"text": "feature group"}})
    _feature_ticks(fig, ids, [named[i].label for i in ids])
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(rangemode="tozero")
    return fig


def group_importance_figure(importance: dict) -> go.Figure:
    """Summed mean |SHAP value| per feature group, largest on top, with the share of the total."""
    groups = sorted((importance.get("groups") or {}).items(), key=lambda kv: -kv[1])
    colours = _colours([g for g, _ in groups] + [f["group"] for f in importance.get("features") or []])
    n_features = {}
    for f in importance.get("features") or []:
        n_features[f["group"]] = n_features.get(f["group"], 0) + 1
    total = sum(v for _, v in groups)
    names = [g for g, _ in groups]
    values = [v for _, v in groups]
    shares = [v / total if total else 0.0 for v in values]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker={"color": [colours[g] for g in names]},
        text=[f"{s:.0%}" for s in shares], textposition="auto", name="feature groups",
        customdata=[[s, n_features.get(g, 0)] for g, s in zip(names, shares)],
        hovertemplate=("<b>%{y}</b><br>summed mean |SHAP value| %{x:.4g}<br>%{customdata[0]:.1%} of the total"
                       "<br>%{customdata[1]} features<extra></extra>"),
    ))
    if not groups:
        _note(fig, "No feature groups recorded.")
    elif len(groups) == 1:  # one bar compares nothing: say what it would show instead
        fig.data = ()
        _note(fig, f"All {n_features.get(names[0], 0)} features belong to one group ({names[0]}): "
                   "there are no groups to compare.")
    _layout(fig, "Importance by feature group",
            "summed mean |SHAP value| of the group's features", "Feature group",
            subtitle=f"Explained output: {importance.get('output_space', 'model output')}. "
                     "Bar labels: share of the total.",
            height=max(300, 190 + 40 * len(groups)), showlegend=False)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    fig.update_xaxes(rangemode="tozero")
    return fig


def per_block_figure(per_block: dict) -> go.Figure:
    """Held-out balanced accuracy of each omics block alone (engine.training.per_block_scores) against all
    blocks together, with macro-F1 beside it, in the dataset's block order and "all blocks" last."""
    rows = per_block_rows(per_block)
    names = [r["block"] for r in rows]
    fig = go.Figure()
    for key, label, colour in (("balanced_accuracy", "balanced accuracy", qualitative.Safe[0]),
                               ("macro_f1", "macro-F1", qualitative.Safe[1])):
        values = [r[key] for r in rows]
        fig.add_trace(go.Bar(
            x=values, y=names, orientation="h", name=label, marker={"color": colour},
            text=[f"{v:.3f}" for v in values], textposition="auto",
            customdata=[r["features"] for r in rows],
            hovertemplate=f"<b>%{{y}}</b><br>{label} %{{x:.3f}}<br>%{{customdata}} features<extra></extra>"))
    _layout(fig, "Each omics block alone against all blocks", "held-out score (1 is perfect)", "Features used",
            subtitle=f"{per_block.get('candidate', 'the chosen candidate')} refitted on each block's features; "
                     "<br>same training and held-out split, same seed.",
            height=max(320, 200 + 60 * len(rows)), barmode="group")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    fig.update_xaxes(range=[0, 1])
    return fig


# --- table rows -------------------------------------------------------------------------------------

def per_class_metrics_rows(per_class: dict) -> list[dict]:
    """Rows for a per-class table: class, precision, recall, f1 (3 decimals) and support, by class
    name (case-insensitive)."""
    return [
        {"class": name,
         "precision": round(float(m["precision"]), 3),
         "recall": round(float(m["recall"]), 3),
         "f1": round(float(m["f1"]), 3),
         "support": int(m["support"])}
        for name, m in sorted(per_class.items(), key=lambda kv: (str(kv[0]).casefold(), str(kv[0])))
    ]


ALL_BLOCKS = "all blocks"


def per_block_rows(per_block: dict) -> list[dict]:
    """Rows of the per-block comparison: block (or "all blocks", last), its feature count, balanced
    accuracy, macro-F1 and each class's recall (3 decimals), in the dataset's block order."""
    entries = [(b["block"], b) for b in per_block.get("blocks") or []] + [(ALL_BLOCKS, per_block["all_blocks"])]
    return [{"block": name, "features": int(entry["n_features"]),
             "balanced_accuracy": round(float(entry["balanced_accuracy"]), 3),
             "macro_f1": round(float(entry["macro_f1"]), 3),
             **{f"recall {c}": round(float(r), 3) for c, r in sorted(entry["per_class_recall"].items())}}
            for name, entry in entries]


MISSING = "n/a"


def _better(va: float | None, vb: float | None, direction: str, label_a: str, label_b: str) -> str:
    if va is None or vb is None:
        return MISSING
    a, b = round(va, 4), round(vb, 4)
    if a == b:
        return "equal"
    return label_a if (a > b) == (direction == "higher") else label_b


def metrics_comparison_rows(a: dict, b: dict, label_a: str, label_b: str) -> list[dict]:
    """Rows comparing the headline metrics (engine.headline) of two versions' metrics dicts: one row
    per metric with keys "metric" (readable name), "key", `label_a`, `label_b` (values to 4 decimals,
    "n/a" when a version lacks the metric), "difference" (b - a, to 4 decimals, or "n/a"), "better"
    ("higher" or "lower": which direction is better) and "better version" (the label of the better one,
    "equal" at 4 decimals, or "n/a"). The same label twice (a version compared with itself) gets " (b)" on the
    second, so neither column is lost."""
    reserved = {"metric", "key", "difference", "better", "better version"}
    if {label_a, label_b} & reserved:
        raise ValueError(f"labels must not be one of {sorted(reserved)}: {label_a!r}, {label_b!r}")
    if label_b == label_a:
        label_b = f"{label_b} (b)"
    rows = []
    for metric in HEADLINE_METRICS:
        va, vb = _number(metric.read(a)), _number(metric.read(b))
        rows.append({
            "metric": metric.label, "key": metric.key,
            label_a: MISSING if va is None else round(va, 4),
            label_b: MISSING if vb is None else round(vb, 4),
            "difference": MISSING if va is None or vb is None else round(vb - va, 4),
            "better": metric.better,
            "better version": _better(va, vb, metric.better, label_a, label_b),
        })
    return rows
