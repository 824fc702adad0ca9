"""The explain page's tab "Similar reference samples": the sample's most similar training samples with their
known classes (portal.predictions.neighbours), as a table and on the version's map, drawn when the tab is
opened, for a role with `explain` who may read the run (checked here, on the server).
No register_page: the explain page (pages/explain.py) lays out the tab and registers the callback."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html

from components.neighbour_figures import neighbours_projection_figure
from components.neighbour_table import neighbours_table, sharing_words
from portal.accounts.permissions import require
from portal.core import context
from portal.predictions import runs
from portal.predictions.access import sample_run
from portal.predictions.neighbours import sample_neighbours

TAB = "neighbours"


def neighbours_tab() -> dcc.Tab:
    return dcc.Tab(dcc.Loading(html.Div(id="explain-neighbours-holder")), value=TAB,
                   label="Similar reference samples")


def _distance_words(shown) -> str:
    return (f"Distances are in the model's standardised feature space, the one its out-of-distribution check "
            f"uses: this sample's score, the mean distance to its {shown.ood_neighbours} nearest, is "
            f"{shown.ood_score:.2f} (flagged above {shown.ood_threshold:.2f}). A difference of 1 sd is one "
            "standard deviation of that feature among the training samples.")


def register_neighbours_callback(app: dash.Dash) -> None:
    @app.callback(Output("explain-neighbours-holder", "children"), Input("explain-tabs", "value"),
                  State("explain-ids", "data"))
    def neighbours_view(tab, ids):
        require("explain")
        if tab != TAB:  # drawn only when its tab is opened
            return dash.no_update
        run, sample_id = sample_run(ids)
        try:
            shown = sample_neighbours(context.get(), run, sample_id)
        except runs.RunError as error:
            flask.abort(error.status, description=str(error))
        found = shown.neighbours
        figure = neighbours_projection_figure(
            shown.training_coordinates, shown.training_labels, shown.sample_coordinates, shown.sample_id,
            found.predicted, shown.neighbour_coordinates, [n.id for n in found.neighbours],
            [n.label for n in found.neighbours], shown.explained_variance_ratio)
        return html.Div([
            dbc.Alert(sharing_words(found), color="light", className="py-2 mb-2", id="explain-neighbours-count"),
            html.P(_distance_words(shown), className="small text-muted"),
            neighbours_table(found),
            dcc.Graph(figure=figure, id="explain-neighbours-map"),
        ])
