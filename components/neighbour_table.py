"""The explain page's table of a sample's most similar training samples: rank, id, known class (marked when
it is the predicted class), distance, and the features in which each differs most (readable labels from
engine.feature_labels, the raw id beside; the sample's and the neighbour's raw values, and the difference
in the training samples' standard deviations). Arguments in (engine.neighbours.Neighbours), components out."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from engine.feature_labels import feature_label
from engine.neighbours import Neighbours


def _number(value: float | None) -> str:
    if value is None:
        return "missing (imputed)"
    return f"{value:.4g}" if value != int(value) or abs(value) >= 1e6 else f"{int(value)}"


def _difference(d) -> html.Li:
    label = feature_label(d.feature, d.group)
    return html.Li([
        html.Span(label.label, title=label.description or label.id),
        html.Span(f" ({label.id})", className="text-muted") if label.known else "",
        f": {_number(d.sample_value)} here, {_number(d.neighbour_value)} there ({d.difference:+.1f} sd)",
    ])


def sharing_words(found: Neighbours) -> str:
    same = found.sharing_predicted
    return (f"{same} of its {found.k} most similar training samples {'is' if same == 1 else 'are'} of the "
            f"predicted class {found.predicted}.")


def neighbours_table(found: Neighbours, table_id: str = "explain-neighbours-table") -> dbc.Table:
    header = html.Thead(html.Tr([html.Th("#"), html.Th("Training sample"), html.Th("Known class"),
                                 html.Th("Distance"), html.Th("Differs most in (this sample, that one)")]))
    rows = []
    for rank, n in enumerate(found.neighbours, start=1):
        same = n.label == found.predicted
        rows.append(html.Tr([
            html.Td(rank), html.Td(n.id, className="text-break"),
            html.Td([n.label, html.Span(" ✓", title="the predicted class", className="text-success") if same else ""],
                    className="explain-neighbour-class"),
            html.Td(f"{n.distance:.2f}"),
            html.Td(html.Ul([_difference(d) for d in n.differences], className="mb-0 ps-3")),
        ]))
    return dbc.Table([header, html.Tbody(rows)], id=table_id, size="sm", striped=True, responsive=True,
                     className="small")
