"""Explain one sample of a run (/explain/<run>/<sample>): the predicted class with its calibrated
probability in plain words, the abstain and out-of-distribution warnings, the contributions per feature
group (omics block) and then a SHAP waterfall of the features that weighed most for the predicted class
(or any other on request), in a second tab the
sample's values beside the training samples of the class (drawn when opened), and the model's held-out
figures. Prints as a report."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html
from flask_login import current_user

from components import prediction_figures as pf
from components.explanation_text import confidence_words, distribution_words, group_words
from components.layout import RESEARCH_ONLY, not_allowed
from components.links import run_href, segment_value
from pages.explain_exports import export_buttons, register_export_callbacks
from pages.explain_neighbours import neighbours_tab, register_neighbours_callback
from pages.explain_whatif import register_whatif_callbacks, whatif_tabs
from pages.frame import page_denied
from portal.accounts import audit
from portal.accounts.permissions import require
from portal.core import context
from portal.core.models import utcnow
from portal.predictions import explanations, reviews, runs
from portal.predictions.access import sample_run
from portal.retention import notice

dash.register_page(__name__, path_template="/explain/<run_id>/<sample_id>", name="Explain", permission="explain",
                   in_nav=False)


def _model_facts(version) -> dbc.Card:
    h = version.headline_metrics
    return dbc.Card(dbc.CardBody([
        html.H2("The model", className="h6"),
        html.P(f"{version.ref} ({version.algorithm}), artifact sha256 {version.sha256[:16]}…, trained on "
               f"{version.dataset_title}.", className="small mb-1"),
        html.P(f"Held-out: accuracy {h['accuracy']:.3f}, balanced accuracy {h['balanced_accuracy']:.3f}, "
               f"macro-F1 {h['macro_f1']:.3f}, calibration error {h['expected_calibration_error']:.3f} "
               f"over {version.metrics['n_samples']} samples.", className="small mb-1", id="explain-model-metrics"),
        dbc.Alert(RESEARCH_ONLY, color="warning", className="py-1 mb-0 small", id="explain-notice"),
    ]), className="mb-3")


def _true_label(shown) -> html.P:
    """The class the uploaded file gave the sample, beside the prediction (on screen and in print)."""
    if shown.true_label is None:
        return html.P(id="explain-true-label", className="d-none")
    verdict = "the model agrees" if shown.true_label == shown.predicted else f"the model predicts {shown.predicted}"
    return html.P(f"Known class in your file: {shown.true_label} ({verdict}).", id="explain-true-label",
                  className="small")


def layout(run_id: str | None = None, sample_id: str | None = None, **_query):
    denied = page_denied("explain")
    if denied:
        return denied
    sample_id = segment_value(sample_id)  # percent-encoded by components.links.explain_href
    try:
        shown = explanations.predict_sample(context.get(), run_id or "", sample_id, current_user.id,
                                            current_user.role)
    except runs.RunError as error:
        if error.status == notice.GONE:  # the run's stored values were purged: say so, it is not a refusal
            return dbc.Alert(str(error), color="secondary", id="explain-purged")
        return not_allowed(str(error))
    run, version, predicted = shown.run, shown.version, shown.predicted
    audit.record("explanation.view", target=f"{run.id}/{sample_id}", details={"model": version.ref})
    return html.Div([
        html.Div([
            dbc.Button("Print report", id="explain-print", color="secondary", outline=True, size="sm",
                       className="me-2"),
            *export_buttons(),
            dcc.Link("Back to the run", href=run_href(run.id), className="small"),
        ], className="no-print mb-2"),
        html.H1(f"Sample {sample_id}", className="h4", id="explain-title"),
        _true_label(shown),
        html.P(f"Run {run.id[:8]} · {version.ref} · printed {utcnow():%Y-%m-%d %H:%M} UTC",
               className="print-only small"),
        dbc.Alert(confidence_words(predicted, shown.confidence, version.abstain_threshold,
                                   version.abstain_target_accuracy),
                  color="warning" if shown.abstain else "primary", id="explain-confidence"),
        dbc.Alert(distribution_words(shown.far_from_training, shown.outside_range, shown.out_of_range,
                                     shown.n_features),
                  color="danger" if shown.out_of_distribution else "light", id="explain-distribution"),
        dbc.Row([
            dbc.Col([dbc.Label("Explain the class"), dcc.Dropdown(
                id="explain-class", clearable=False, value=predicted,
                options=[{"label": f"{c} (p = {p:.3f})", "value": c}
                         for c, p in sorted(zip(shown.classes, shown.probabilities), key=lambda t: -t[1])])],
                md=4, className="no-print"),
        ], className="mb-2"),
        dcc.Store(id="explain-ids", data={"run": run.id, "sample": sample_id}),
        dcc.Tabs(id="explain-tabs", value="why", className="mb-2", children=[  # one tab drawn at a time
            dcc.Tab(dcc.Loading(html.Div(id="explain-figures")), label="Why this prediction", value="why"),
            dcc.Tab(dcc.Loading(html.Div(id="explain-context-holder")), value="context",
                    label="Its values beside the training samples"),
            neighbours_tab(),
            *whatif_tabs(),
        ]),
        _model_facts(version),
        review_panel(run, sample_id),
    ])


def _explained(ids, class_name) -> explanations.SampleExplanation:
    """The sample's explanation for `class_name`, for a request that may be forged (4xx, never a 500)."""
    run, sample_id = sample_run(ids)
    try:
        return explanations.explain_sample(context.get(), run, sample_id, class_name)
    except runs.RunError as error:
        flask.abort(error.status, description=str(error))


def register_callbacks(app: dash.Dash) -> None:
    register_review_callback(app)
    register_export_callbacks(app)
    register_neighbours_callback(app)
    register_whatif_callbacks(app)

    @app.callback(Output("explain-figures", "children"), Input("explain-class", "value"),
                  State("explain-ids", "data"))
    def figures(class_name, ids):
        require("explain")
        explained = _explained(ids, class_name)
        data = explained.contributions
        # the sums per feature group (omics block) first, then the features that weighed most
        return html.Div([
            html.P(group_words(data["group_sums"], explained.class_name), id="explain-group-words", className="small"),
            dbc.Row([
                dbc.Col(dcc.Graph(figure=pf.group_contributions_figure(data["group_sums"], explained.class_name),
                                  id="explain-groups"), lg=5),
                dbc.Col(dcc.Graph(figure=pf.shap_waterfall_figure(data), id="explain-waterfall"), lg=7),
            ]),
        ])

    @app.callback(Output("explain-context-holder", "children"), Input("explain-tabs", "value"),
                  Input("explain-class", "value"), State("explain-ids", "data"))
    def context_figure(tab, class_name, ids):
        require("explain")
        if tab != "context":  # drawn only when its tab is opened
            return dash.no_update
        explained = _explained(ids, class_name)
        return dcc.Graph(figure=pf.feature_context_figure(explained.feature_context, explained.class_name),
                         id="explain-context")

    app.clientside_callback("function(n) { if (n) { window.print(); } return ''; }",
                            Output("explain-print", "title"), Input("explain-print", "n_clicks"),
                            prevent_initial_call=True)


# -- reviews: a reviewer of a shared run records a verdict and a note; the owner and recipients read them --

def _review_list(shown: list) -> html.Div:
    if not shown:
        return html.P("No review of this sample yet.", className="small text-muted mb-2")
    items = []
    for review in shown:
        words = html.Strong(review.verdict.words.capitalize())
        replaced = "" if review.current else " (superseded by a later review)"
        items.append(html.Li([words, f" — {review.note}" if review.note else "",
                              html.Span(f" · {review.signature}{replaced}", className="text-muted")],
                             className="" if review.current else "text-decoration-line-through text-muted"))
    return html.Ul(items, className="small mb-2")


def review_panel(run, sample_id: str) -> dbc.Card:
    portal = context.get()
    body = [html.H2("Reviews", className="h6"),
            html.Div(_review_list(reviews.of_sample(portal, run, sample_id)), id="explain-review-list")]
    if reviews.may_review(portal, run, current_user.id, current_user.role):
        body.append(html.Div([
            dbc.Label("Your verdict on this prediction", html_for="explain-review-verdict", className="small"),
            dbc.RadioItems(id="explain-review-verdict", inline=True, className="small",
                           options=[{"label": v.words.capitalize(), "value": v.value} for v in reviews.ReviewVerdict]),
            dbc.Textarea(id="explain-review-note", maxLength=reviews.NOTE_MAX, rows=2, className="small mt-1",
                         placeholder=f"A short note (at most {reviews.NOTE_MAX} characters), signed with your name"),
            dbc.Button("Record review", id="explain-review-submit", color="primary", size="sm", className="mt-2"),
            html.Div(id="explain-review-message", className="mt-2"),
        ], className="no-print"))
    return dbc.Card(dbc.CardBody(body), className="mb-3", id="explain-reviews")


def register_review_callback(app: dash.Dash) -> None:
    @app.callback(Output("explain-review-message", "children"), Output("explain-review-list", "children"),
                  Input("explain-review-submit", "n_clicks"), State("explain-review-verdict", "value"),
                  State("explain-review-note", "value"), State("explain-ids", "data"), prevent_initial_call=True)
    def record_review(_n, verdict, note, ids):
        require("review")
        portal, (run, sample_id) = context.get(), sample_run(ids)
        try:
            review = reviews.record(portal, run.id, sample_id, verdict, note, current_user.id, current_user.role)
        except runs.RunError as error:
            if error.status in (403, 404):  # not a reviewer of this run, or a sample it lacks: a forged request
                flask.abort(error.status, description=str(error))
            return dbc.Alert(f"Not recorded: {error}.", color="danger", className="py-1 small mb-0"), dash.no_update
        shown = reviews.of_sample(portal, run, sample_id)
        signed = next(r for r in shown if r.id == review.id).signature
        return (dbc.Alert(f"Review recorded ({reviews.ReviewVerdict(review.verdict).words}), signed {signed}.",
                          color="success", className="py-1 small mb-0"), _review_list(shown))
