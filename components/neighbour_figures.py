"""One sample and its most similar training samples on the version's 2-D map: the map of
`components.prediction_figures.projection_figure` (training samples faint, by class; the sample large, by
its predicted class), with the neighbours ringed and joined to the sample. Pure: plain data in, a Figure out.

The neighbours are the nearest in the out-of-distribution score's space (twenty principal components), the
map shows two: a neighbour can look farther on the map than a sample that is not one. The subtitle says so."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.prediction_figures import OUTLINE, projection_figure

NEIGHBOUR_RING = {"color": OUTLINE, "width": 2}
LINK = {"color": "rgba(31,31,31,0.35)", "width": 1}


def neighbours_projection_figure(training_xy, training_labels, sample_xy, sample_id: str, predicted: str,
                                 neighbour_xy, neighbour_ids, neighbour_labels, explained_variance=None) -> go.Figure:
    sample = np.asarray(sample_xy, dtype=float).reshape(-1, 2)
    near = np.asarray(neighbour_xy, dtype=float).reshape(-1, 2)
    if len(near) != len(neighbour_ids) or len(near) != len(neighbour_labels):
        raise ValueError("neighbour coordinates, ids and classes must have one entry per neighbour")
    fig = projection_figure(training_xy, training_labels, sample, [sample_id], [predicted], explained_variance)
    if len(sample) and len(near):
        x, y = [], []
        for point in near:  # one trace of segments (None breaks the line): sample -> each neighbour
            x += [sample[0, 0], point[0], None]
            y += [sample[0, 1], point[1], None]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=LINK, hoverinfo="skip", showlegend=False,
                                 name="links to the nearest training samples"))
        fig.add_trace(go.Scatter(
            x=near[:, 0], y=near[:, 1], mode="markers", name=f"the {len(near)} most similar training samples",
            customdata=np.column_stack([np.asarray(neighbour_ids, dtype=object),
                                        np.asarray(neighbour_labels, dtype=object),
                                        np.arange(1, len(near) + 1)]),
            marker={"size": 13, "color": "rgba(0,0,0,0)", "line": NEIGHBOUR_RING},
            hovertemplate=("similar training sample %{customdata[2]}: <b>%{customdata[0]}</b>"
                           "<br>known class %{customdata[1]}<extra></extra>")))
        fig.data = fig.data[:-3] + fig.data[-2:] + fig.data[-3:-2]  # the sample's own marker drawn on top
    fig.update_layout(
        title_text=f"Sample {sample_id} and its {len(near)} most similar training samples",
        title_subtitle_text=(
            "Faint markers: training samples by known class; large outlined marker: this sample (its predicted "
            "class);<br>ringed: its most similar training samples, nearest in the model's standardised feature "
            "space (which this two-dimensional map only summarises)."))
    return fig


def neighbour_traces(fig: go.Figure) -> list:
    """The trace that rings the neighbours (a test reads it)."""
    return [t for t in fig.data if str(t.name).endswith("most similar training samples")]
