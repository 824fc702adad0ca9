"""Figures that put two prediction runs side by side. Pure: plain data in (class names and counts, as
portal.predictions.comparison gives them), a plotly Figure out, in the look of components.figures."""
from __future__ import annotations

import plotly.graph_objects as go

from components.figures import _layout, _note

RUN_COLOURS = ("#0072b2", "#e69f00")  # run A, run B (Okabe-Ito blue and orange: colour-blind safe)
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0.01, "yanchor": "bottom", "xanchor": "left", "x": 0.0}


def class_counts_comparison_figure(classes: list[str], counts_a: dict[str, int], counts_b: dict[str, int],
                                   label_a: str, label_b: str) -> go.Figure:
    """Samples per predicted class in two runs, as grouped horizontal bars (one colour a run). Classes that
    neither run predicted are left out and counted in the subtitle; the legend sits below the plot, clear of
    the title."""
    title = "Predicted classes in the two runs"
    shown = [c for c in classes if counts_a.get(c, 0) or counts_b.get(c, 0)]
    if not shown:
        return _layout(_note(go.Figure(), "Neither run has predictions to show."), title, "Samples",
                       "Predicted class", height=360)
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    fig = go.Figure()
    for label, counts, total, colour in ((label_a, counts_a, total_a, RUN_COLOURS[0]),
                                         (label_b, counts_b, total_b, RUN_COLOURS[1])):
        values = [counts.get(c, 0) for c in shown]
        fig.add_trace(go.Bar(
            x=values, y=shown, orientation="h", name=label, marker={"color": colour},
            customdata=[[v / total if total else 0.0] for v in values],
            hovertemplate="<b>%{y}</b><br>%{fullData.name}: %{x} samples (%{customdata[0]:.1%})<extra></extra>",
        ))
    neither = len(classes) - len(shown)
    subtitle = (f"{label_a}: {total_a:,} samples; {label_b}: {total_b:,} samples."
                + (f" {neither} other classes predicted by neither run." if neither else ""))
    _layout(fig, title, "Samples", "Predicted class", subtitle=subtitle, barmode="group",
            height=max(380, 200 + 30 * len(shown)), legend={**LEGEND_BELOW, "traceorder": "normal"})
    fig.update_layout(margin={"b": 110})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=shown, autorange="reversed")
    peak = max([*counts_a.values(), *counts_b.values()])
    fig.update_xaxes(rangemode="tozero", tickformat=",d", **({"dtick": 1} if peak <= 10 else {}))  # whole samples
    return fig
