"""Home: what the portal is and is not, the production models with their held-out figures, and the
signed-in user's recent activity."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

from components.layout import RESEARCH_ONLY, metric_card
from engine.registry import PRODUCTION_ALIAS
from pages.frame import page_denied
from portal.accounts import audit
from portal.core import context

dash.register_page(__name__, path="/", name="Home", order=0, permission="view_home")


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _model_card(version) -> dbc.Card:
    h = version.headline_metrics
    provenance = version.provenance
    return dbc.Card([
        dbc.CardHeader([html.Strong(version.name), html.Span(f"  version {version.version} · {version.algorithm}",
                                                             className="text-muted")]),
        dbc.CardBody([
            html.P(f"{provenance['title']}: predicts {len(version.classes)} classes "
                   f"({provenance['label']}) from {provenance['n_features']} features.", className="small"),
            dbc.Row([
                dbc.Col(metric_card("Balanced accuracy", f"{h['balanced_accuracy']:.3f}", "held-out")),
                dbc.Col(metric_card("Accuracy", f"{h['accuracy']:.3f}",
                                    f"{version.metrics['n_samples']} held-out samples")),
                dbc.Col(metric_card("Macro-F1", f"{h['macro_f1']:.3f}")),
                dbc.Col(metric_card("Calibration error", f"{h['expected_calibration_error']:.3f}", "ECE")),
                dbc.Col(metric_card("Above abstain threshold", _percent(h["coverage"]),
                                    f"accuracy there {_percent(h['accuracy_on_covered'])}")),
            ], className="g-2"),
            dbc.Button("Performance", href=f"/performance?model={version.name}&version={version.version}",
                       size="sm", color="primary", outline=True, className="mt-3 me-2"),
            dbc.Button("Model card", href=f"/models?model={version.name}", size="sm", color="secondary",
                       outline=True, className="mt-3"),
        ]),
    ], className="mb-3", id=f"home-model-{version.name}")


def _activity() -> html.Div:
    events = audit.query(user_id=current_user.id, limit=10)
    if not events:
        return html.P("No activity yet.", className="text-muted")
    rows = [html.Tr([html.Td(e.at.strftime("%Y-%m-%d %H:%M UTC")), html.Td(e.action), html.Td(e.target or ""),
                     html.Td(e.outcome)]) for e in events]
    return dbc.Table([html.Thead(html.Tr([html.Th("When"), html.Th("Action"), html.Th("Target"), html.Th("Outcome")])),
                      html.Tbody(rows)], size="sm", striped=True, id="home-activity")


def layout(**_query):
    denied = page_denied("view_home")
    if denied:
        return denied
    registry = context.get().registry
    production = [registry.version_of(name, PRODUCTION_ALIAS) for name in registry.models()
                  if PRODUCTION_ALIAS in registry.aliases(name)]
    return html.Div([
        html.H1("Cancer Alpha", className="h3"),
        html.P(["Cancer classifiers trained on public genomic data, with calibrated probabilities, a confidence "
                "threshold below which predictions are flagged, an out-of-distribution flag, and SHAP explanations. ",
                html.Strong(RESEARCH_ONLY), " It does not diagnose, and its predictions must not guide a "
                "patient's care."], className="lead fs-6"),
        html.H2("Models in production", className="h5 mt-4"),
        html.Div([_model_card(v) for v in production] or
                 [html.P("No model has a production version yet: run `make run` or `python -m engine bootstrap`.")],
                 id="home-models"),
        html.H2("Your recent activity", className="h5 mt-4"),
        _activity(),
    ])
