"""The explain page's tab "What if": a role with `whatif` chooses up to ten features of the sample, toggles a
binary one or types a number within a continuous one's training range (shown), and sees the class
probabilities and the waterfall with the changes beside those of the sample as stored
(portal.predictions.whatif: nothing stored, audited). Every callback checks the permission and the run's
read access on the server; the sample's values are read again there, only the changed ones come from the
browser. No register_page: the explain page (pages/explain.py) lays out the tab and registers the callbacks."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import ALL, Input, Output, State, dcc, html
from flask_login import current_user

from components import prediction_figures as pf
from components.whatif_figures import whatif_probabilities_figure
from portal.accounts.permissions import allowed, require
from portal.core import context
from portal.predictions import runs, whatif
from portal.predictions.access import sample_run

TAB = "whatif"
VALUE = "explain-whatif-value"  # the type of each changed value's control (a pattern-matching id)


def whatif_tabs() -> list:
    """The tab, for a role that may use it (none for the others: the server refuses them too)."""
    if not allowed(current_user.role, "whatif"):
        return []
    return [dcc.Tab(dcc.Loading(html.Div(id="explain-whatif-holder")), value=TAB, label="What if")]


def _panel(options: list[dict]) -> html.Div:
    return html.Div([
        html.P(f"Change up to {whatif.MAX_CHANGES} of this sample's features to see how the prediction would move. "
               "Nothing is stored; the stored sample stays as it was uploaded.", className="small"),
        dbc.Label("Features to change", html_for="explain-whatif-features", className="small"),
        dcc.Dropdown(id="explain-whatif-features", options=options, multi=True, className="mb-2",
                     placeholder=f"Search a feature (up to {whatif.MAX_CHANGES})"),
        html.Div(id="explain-whatif-changes"),
        dbc.Button("Show the what-if", id="explain-whatif-apply", color="primary", size="sm", disabled=True,
                   className="my-2"),
        dcc.Loading(html.Div(id="explain-whatif-result")),
    ])


def _control(row: whatif.ChangeableFeature):
    control_id = {"type": VALUE, "feature": row.name}
    if row.kind == "binary":
        return dbc.Switch(id=control_id, value=row.value == 1, label="1 (on) or 0 (off)", className="small mb-0")
    return dcc.Input(id=control_id, type="number", value=row.value, min=row.minimum, max=row.maximum, step="any",
                     debounce=True, className="form-control form-control-sm")


def _value(value) -> str:
    return "missing (imputed)" if value is None else f"{value:g}"


def _rows(rows: list[whatif.ChangeableFeature]) -> html.Div:
    items = [dbc.Row([
        dbc.Col(html.Strong(row.display), md=5),
        dbc.Col(f"training range [{_value(row.minimum)}, {_value(row.maximum)}]; this sample {_value(row.value)}",
                md=4, className="text-muted"),
        dbc.Col(_control(row), md=3),
    ], className="small align-items-center mb-1", id={"type": "explain-whatif-row", "feature": row.name})
        for row in rows]
    return html.Div(items, id="explain-whatif-rows")


def _changes(values, control_ids) -> dict:
    """{feature: value} from the controls' ids and values as the browser sent them (4xx when forged)."""
    if not isinstance(values, list) or not isinstance(control_ids, list) or len(values) != len(control_ids):
        flask.abort(400, description="the what-if values must come with their features")
    changes = {}
    for control_id, value in zip(control_ids, values):
        if not (isinstance(control_id, dict) and control_id.get("type") == VALUE
                and isinstance(control_id.get("feature"), str)):
            flask.abort(400, description="a what-if value must name its feature")
        if control_id["feature"] in changes:
            flask.abort(400, description=f"{control_id['feature'][:80]!r} is changed twice")
        changes[control_id["feature"]] = value
    return changes


def _words(shown: whatif.WhatIf) -> str:
    before, after = shown.original, shown.changed
    p_before, p_after = max(before.probabilities), max(after.probabilities)
    moved = ("the predicted class stays " + after.predicted if after.predicted == before.predicted
             else f"the predicted class changes from {before.predicted} to {after.predicted}")
    flags = " The changed sample would be flagged as out of distribution." if after.out_of_distribution else ""
    return (f"With {len(shown.changes)} feature{'s' if len(shown.changes) != 1 else ''} changed, {moved} "
            f"(probability {p_before:.1%} as stored, {p_after:.1%} what-if).{flags}")


def _result(shown: whatif.WhatIf) -> html.Div:
    return html.Div([
        dbc.Alert(_words(shown), color="info", className="py-2", id="explain-whatif-summary"),
        dcc.Graph(figure=whatif_probabilities_figure(shown.classes, shown.original.probabilities,
                                                     shown.changed.probabilities), id="explain-whatif-probabilities"),
        dbc.Row([
            dbc.Col([html.H3("As stored", className="h6"),
                     dcc.Graph(figure=pf.shap_waterfall_figure(shown.original.explanation),
                               id="explain-whatif-waterfall-original")], lg=6),
            dbc.Col([html.H3("What-if", className="h6"),
                     dcc.Graph(figure=pf.shap_waterfall_figure(shown.changed.explanation),
                               id="explain-whatif-waterfall-changed")], lg=6),
        ]),
    ])


def register_whatif_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("explain-whatif-holder", "children"), Input("explain-tabs", "value"),
                  State("explain-ids", "data"))
    def whatif_panel(tab, ids):
        require("whatif")
        if tab != TAB:  # drawn only when its tab is opened
            return dash.no_update
        run, _ = sample_run(ids)
        try:
            return _panel(whatif.feature_options(runs.run_model(context.get(), run)))
        except runs.RunError as error:
            flask.abort(error.status, description=str(error))

    @app.callback(Output("explain-whatif-changes", "children"), Input("explain-whatif-features", "value"),
                  State("explain-ids", "data"))
    def whatif_rows(names, ids):
        require("whatif")
        run, sample_id = sample_run(ids)
        if not names:
            return html.P("Choose the features to change above.", className="small text-muted")
        if isinstance(names, list) and len(names) > whatif.MAX_CHANGES:
            return dbc.Alert(f"Choose at most {whatif.MAX_CHANGES} features ({len(names)} are chosen).",
                             color="warning", className="py-1 small", id="explain-whatif-too-many")
        try:
            return _rows(whatif.changeable(context.get(), run, sample_id, names))
        except runs.RunError as error:
            flask.abort(error.status, description=str(error))

    app.clientside_callback(  # the button waits for a valid value in every row (an empty number field is null)
        "function(values) { return !values.length || values.some(v => v === null || v === undefined"
        " || (typeof v === 'number' && isNaN(v))); }",
        Output("explain-whatif-apply", "disabled"), Input({"type": VALUE, "feature": ALL}, "value"))

    @app.callback(Output("explain-whatif-result", "children"), Input("explain-whatif-apply", "n_clicks"),
                  State({"type": VALUE, "feature": ALL}, "value"), State({"type": VALUE, "feature": ALL}, "id"),
                  State("explain-class", "value"), State("explain-ids", "data"), prevent_initial_call=True)
    def whatif_result(_n, values, control_ids, class_name, ids):
        require("whatif")
        run, sample_id = sample_run(ids)
        changes = _changes(values, control_ids)
        try:
            return _result(whatif.what_if(context.get(), run, sample_id, changes, class_name))
        except runs.RunError as error:
            flask.abort(error.status, description=str(error))
