"""Home: what the portal is and is not, what waits for the signed-in user (runs shared with them, samples
awaiting their review, their recent runs; an empty list says what to do next), the production models
with their held-out figures, and the user's recent activity."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask_login import current_user

from components.layout import RESEARCH_ONLY, metric_card
from components.links import explain_href, run_href
from engine.registry import PRODUCTION_ALIAS
from pages.frame import page_denied
from portal.accounts import audit
from portal.accounts.permissions import allowed
from portal.core import context
from portal.predictions import reviews, runs, sharing

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
    events = audit.latest(audit.Filters(user_id=current_user.id), limit=10)
    if not events:
        return html.P("No activity yet.", className="text-muted")
    rows = [html.Tr([html.Td(e.at.strftime("%Y-%m-%d %H:%M UTC")), html.Td(e.action), html.Td(e.target or ""),
                     html.Td(e.outcome)]) for e in events]
    return dbc.Table([html.Thead(html.Tr([html.Th("When"), html.Th("Action"), html.Th("Target"), html.Th("Outcome")])),
                      html.Tbody(rows)], size="sm", striped=True, id="home-activity")


RECENT = 5  # own runs listed on Home


def _next_step(text: str, link: str | None = None, href: str | None = None, id_: str | None = None) -> html.P:
    return html.P([text, " ", dcc.Link(link, href=href)] if link else text, className="small text-muted", id=id_)


def _run_line(run, extra: str = "") -> html.Li:
    label = run.name or f"Run {run.id[:8]}"
    summary = run.summary or {}
    samples = f"{summary['n']} samples" if "n" in summary else f"{run.progress_total} samples"
    return html.Li([dcc.Link(label, href=run_href(run.id)),
                    f" · {run.model_name}:{run.model_version} · {samples} · {run.status} · "
                    f"{run.created_at:%Y-%m-%d %H:%M} UTC{extra}"])


def _waiting() -> html.Div:
    """Runs shared with me, samples awaiting my review (reviews.awaiting), my recent runs."""
    portal, who, role = context.get(), current_user.id, current_user.role
    parts = []
    shared = sharing.shared_runs(portal, who, role, limit=10)
    parts.append(html.H3("Runs shared with you", className="h6 mt-3"))
    parts.append(html.Ul([_run_line(s.run, f" · shared by {s.owner}") for s in shared], className="small",
                         id="home-shared") if shared else
                 _next_step("Nothing is shared with you yet. When a colleague shares a run with you (or with your "
                            "role), it appears here, read-only.", id_="home-shared-empty"))
    if allowed(role, "review"):
        waiting, total = reviews.awaiting(portal, who, role, limit=10)
        parts.append(html.H3(f"Samples awaiting your review ({total})", className="h6 mt-3"))
        if waiting:
            items = [html.Li([dcc.Link(f"Sample {w.sample_id}", href=explain_href(w.run_id, w.sample_id)),
                              f" · predicted {w.predicted} · run {w.run_id[:8]} of {w.owner}",
                              html.Span(f" · {', '.join(w.flags)}", className="text-danger") if w.flags else ""])
                     for w in waiting]
            more = [] if total <= len(waiting) else [html.P(f"and {total - len(waiting)} more in the runs shared "
                                                            "with you.", className="small text-muted")]
            parts.append(html.Div([html.Ul(items, className="small mb-1", id="home-review")] + more))
        else:
            parts.append(_next_step("No sample waits for your review: every sample of the runs shared with you "
                                    "has your review, or nothing is shared with you yet.", id_="home-review-empty"))
    if allowed(role, "predict"):
        own = runs.list_runs(portal, who, role, limit=RECENT, own=True)
        parts.append(html.H3("Your recent runs", className="h6 mt-3"))
        parts.append(html.Div([html.Ul([_run_line(r) for r in own], className="small mb-1", id="home-runs"),
                               dcc.Link("All your runs", href="/runs", className="small")]) if own else
                     _next_step("You have no runs yet.", "Upload a cohort on Predict", "/predict", "home-runs-empty"))
    return html.Div(parts, id="home-waiting")


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
        html.H2("Waiting for you", className="h5 mt-4"),
        _waiting(),
        html.H2("Models in production", className="h5 mt-4"),
        html.Div([_model_card(v) for v in production] or
                 [html.P("No model has a production version yet: run `make run` or `python -m engine bootstrap`.")],
                 id="home-models"),
        html.H2("Your recent activity", className="h5 mt-4"),
        _activity(),
    ])
