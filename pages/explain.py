"""Explain one sample of a run (/explain/<run>/<sample>): the predicted class with its calibrated
probability in plain words, the abstain and out-of-distribution warnings, a SHAP waterfall for the
predicted class (or any other on request), contributions per feature group, the sample's values beside
the training samples of the class, and the model's held-out figures. Prints as a report."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html
from flask_login import current_user

from components import prediction_figures as pf
from components.explanation_text import confidence_words, distribution_words
from components.layout import RESEARCH_ONLY, not_allowed
from engine.explain import explain
from engine.predict import predict
from engine.projection import training_samples
from portal.accounts import audit
from portal.core import context
from portal.predictions import runs
from portal.core.models import utcnow
from portal.accounts.permissions import require
from portal.predictions.access import run_or_abort
from pages.frame import page_denied

dash.register_page(__name__, path_template="/explain/<run_id>/<sample_id>", name="Explain", permission="explain",
                   in_nav=False)

TOP = 20
CONTEXT_FEATURES = 9


@lru_cache(maxsize=8)
def _training(path: str, sha256: str, model_ref: str):
    """Training values and labels of a version (read once per process; versions never change)."""
    X, labels, _ = training_samples(context.get().registry.load(model_ref))
    return X, np.asarray(labels)


def _model_and_sample(run, sample_id: str):
    portal = context.get()
    model = portal.registry.load(f"{run.model_name}:{run.model_version}")
    X, out_of_range = runs.sample_input(portal, run, sample_id, model.schema.names)
    return model, X, out_of_range


def _feature_context(model, explanation, X) -> list[dict]:
    version = model.version
    train_X, labels = _training(str(version.path), version.sha256, version.ref)
    in_class = train_X[labels == explanation.class_name]
    kinds = {f.name: f.kind for f in model.schema.features}
    items = []
    for contribution in explanation.top[:CONTEXT_FEATURES]:
        j = model.schema.names.index(contribution.feature)
        items.append({"feature": contribution.feature, "group": contribution.group, "kind": kinds[contribution.feature],
                      "value": None if np.isnan(X[0, j]) else float(X[0, j]),
                      "training_values": in_class[:, j].tolist()})
    return items


def _model_facts(version) -> dbc.Card:
    m = version.metrics
    return dbc.Card(dbc.CardBody([
        html.H2("The model", className="h6"),
        html.P(f"{version.ref} ({version.metadata['algorithm']}), artifact sha256 {version.sha256[:16]}…, trained on "
               f"{version.metadata['dataset']['provenance']['title']}.", className="small mb-1"),
        html.P(f"Held-out: accuracy {m['accuracy']:.3f}, balanced accuracy {m['balanced_accuracy']:.3f}, "
               f"macro-F1 {m['macro_f1']:.3f}, calibration error {m['calibration']['expected_calibration_error']:.3f} "
               f"over {m['n_samples']} samples.", className="small mb-1", id="explain-model-metrics"),
        dbc.Alert(RESEARCH_ONLY, color="warning", className="py-1 mb-0 small", id="explain-notice"),
    ]), className="mb-3")


def layout(run_id: str | None = None, sample_id: str | None = None, **_query):
    denied = page_denied("explain")
    if denied:
        return denied
    sample_id = unquote(sample_id or "")
    portal = context.get()
    try:
        run = runs.get_run(portal, run_id or "", current_user.id, current_user.role)
        if run.status != runs.DONE:
            raise runs.RunError(f"run {run.id} is {run.status}", 409)
        model, X, out_of_range = _model_and_sample(run, sample_id)
    except runs.RunError as error:
        return not_allowed(str(error))
    result = predict(model, X, [sample_id], np.array([out_of_range]))
    meta = model.version.metadata
    predicted = result.predicted[0]
    audit.record("explanation.view", target=f"{run.id}/{sample_id}", details={"model": model.version.ref})
    return html.Div([
        html.Div([
            dbc.Button("Print report", id="explain-print", color="secondary", outline=True, size="sm",
                       className="me-2"),
            dcc.Link("Back to the run", href=f"/runs/{run.id}", className="small"),
        ], className="no-print mb-2"),
        html.H1(f"Sample {sample_id}", className="h4", id="explain-title"),
        html.P(f"Run {run.id[:8]} · {model.version.ref} · printed {utcnow():%Y-%m-%d %H:%M} UTC",
               className="print-only small"),
        dbc.Alert(confidence_words(predicted, float(result.confidence[0]), meta["abstain"]["threshold"],
                                   meta["abstain"]["target_accuracy"]),
                  color="warning" if result.abstain[0] else "primary", id="explain-confidence"),
        dbc.Alert(distribution_words(bool(result.out_of_distribution[0]), float(result.ood_score[0]),
                                     model.bundle.ood.threshold_, out_of_range),
                  color="danger" if result.out_of_distribution[0] else "light", id="explain-distribution"),
        dbc.Row([
            dbc.Col([dbc.Label("Explain the class"), dcc.Dropdown(
                id="explain-class", clearable=False, value=predicted,
                options=[{"label": f"{c} (p = {p:.3f})", "value": c}
                         for c, p in sorted(zip(model.bundle.classes, result.probabilities[0]), key=lambda t: -t[1])])],
                md=4, className="no-print"),
        ], className="mb-2"),
        dcc.Store(id="explain-ids", data={"run": run.id, "sample": sample_id}),
        dcc.Loading(html.Div(id="explain-figures")),
        _model_facts(model.version),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("explain-figures", "children"), Input("explain-class", "value"),
                  State("explain-ids", "data"))
    def figures(class_name, ids):
        require("explain")
        run = run_or_abort(ids["run"])
        model, X, _ = _model_and_sample(run, ids["sample"])
        (explanation,) = explain(model.bundle, model.schema, X, [ids["sample"]], class_name=class_name, top_k=TOP)
        data = explanation.to_dict()
        return html.Div([
            dbc.Row([
                dbc.Col(dcc.Graph(figure=pf.shap_waterfall_figure(data), id="explain-waterfall"), lg=7),
                dbc.Col(dcc.Graph(figure=pf.group_contributions_figure(data["group_sums"], explanation.class_name),
                                  id="explain-groups"), lg=5),
            ]),
            dcc.Graph(figure=pf.feature_context_figure(_feature_context(model, explanation, X), explanation.class_name),
                      id="explain-context"),
        ])

    app.clientside_callback("function(n) { if (n) { window.print(); } return ''; }",
                            Output("explain-print", "title"), Input("explain-print", "n_clicks"),
                            prevent_initial_call=True)
