"""The what-if panel's comparison: each class's calibrated probability for the sample as stored and with
the changed values, side by side. Pure: plain lists in, a Figure out (the look of components.figures)."""
from __future__ import annotations

import plotly.graph_objects as go

from components.figures import _layout

ORIGINAL, CHANGED = "#9aa5b1", "#08519c"


def whatif_probabilities_figure(classes: list[str], original: list[float], changed: list[float]) -> go.Figure:
    if not len(classes) == len(original) == len(changed):
        raise ValueError("one original and one changed probability per class")
    order = sorted(range(len(classes)), key=lambda k: (-max(original[k], changed[k]), classes[k]))
    names = [str(classes[k]) for k in order]
    fig = go.Figure()
    for title, values, colour in (("as stored", original, ORIGINAL), ("what-if", changed, CHANGED)):
        shown = [float(values[k]) for k in order]
        fig.add_trace(go.Bar(y=names, x=shown, name=title, orientation="h", marker_color=colour,
                             text=[f"{v:.1%}" for v in shown], textposition="outside", cliponaxis=False,
                             hovertemplate=f"%{{y}} ({title}): %{{x:.3f}}<extra></extra>"))
    _layout(fig, "Class probabilities: as stored and what-if", "Calibrated probability", "Class",
            height=max(260, 150 + 44 * len(names)), barmode="group", legend={"orientation": "h"},
            subtitle="Nothing is stored: the what-if values change this view only.")
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    return fig
