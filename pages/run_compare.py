"""Two prediction runs side by side (/runs/compare?a=<run>&b=<run>, opened from My runs): per class the
samples each predicted, how confident each was, and on the samples both hold (by sample id) how often they
agree, with the samples on which they differ. Both runs are checked on the server (the owner's, shared with
the user, or any for an admin); runs of different models compare on sample ids and class names."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from flask_login import current_user

from components.comparison_figures import class_counts_comparison_figure
from components.glossary import column
from components.layout import not_allowed
from components.links import explain_href, run_href
from pages.frame import page_denied
from portal import browser_values
from portal.accounts.permissions import require
from portal.core import context
from portal.predictions import comparison, lifecycle, runs
from portal.predictions.access import run_or_abort
from portal.predictions.comparison import ConfidenceSummary

# An order of its own: Dash routes a path to the first page that matches it, and pages with an order come
# first, so "/runs/compare" is this page and not the run page's "/runs/<run_id>".
dash.register_page(__name__, path="/runs/compare", name="Compare runs", order=7, permission="predict", in_nav=False)

LABELS = ("Run A", "Run B")
MAX_DISAGREEMENTS_SHOWN = 5_000
DISAGREEMENT_HEADERS = {  # field -> (header in words, the glossary term it is)
    "sample_id": ("Sample", None), "class_a": ("Class in run A", None), "class_b": ("Class in run B", None),
    "confidence_a": ("Confidence in A", "confidence"), "confidence_b": ("Confidence in B", "confidence"),
}


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _run_card(label: str, listed: lifecycle.ListedRun | None, run) -> dbc.Col:
    facts = [html.Li(f"Model {run.model_name}:{run.model_version}"),
             html.Li(f"File {listed.filename if listed and listed.filename else 'unknown'}"),
             html.Li(f"{run.progress_total:,} samples, started {run.created_at:%Y-%m-%d %H:%M UTC}")]
    if run.user_id != current_user.id:
        facts.append(html.Li(f"Owner {listed.owner if listed else run.user_id}"))
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.H2([f"{label}: ", run.name or f"run {run.id[:8]}"], className="h6"),
        html.Ul(facts, className="small mb-1"),
        dcc.Link("Open its results", href=run_href(run.id), className="small"),
    ])), md=6)


def _confidence_table(a: ConfidenceSummary, b: ConfidenceSummary) -> dbc.Table:
    rows = [
        ("Samples", f"{a.n:,}", f"{b.n:,}"),
        ("Median confidence", _number(a.median), _number(b.median)),
        ("Quartiles of confidence (25% to 75%)", f"{_number(a.q1)} to {_number(a.q3)}",
         f"{_number(b.q1)} to {_number(b.q3)}"),
        ("Below abstain threshold", f"{a.abstained:,} ({_share(a.abstained_share)})",
         f"{b.abstained:,} ({_share(b.abstained_share)})"),
        ("Out of distribution", f"{a.out_of_distribution:,} ({_share(a.out_of_distribution_share)})",
         f"{b.out_of_distribution:,} ({_share(b.out_of_distribution_share)})"),
    ]
    return dbc.Table([html.Thead(html.Tr([html.Th(""), html.Th(LABELS[0]), html.Th(LABELS[1])])),
                      html.Tbody([html.Tr([html.Th(name, scope="row"), html.Td(x), html.Td(y)])
                                  for name, x, y in rows])],
                     bordered=False, striped=True, size="sm", id="compare-confidence", className="small")


def _agreement_view(agreement: comparison.Agreement, run_a) -> html.Div:
    if not agreement.shared:
        return html.Div(html.P("The two runs share no sample ids: there is nothing to agree or disagree on.",
                               id="compare-agreement"))
    text = (f"{agreement.shared:,} samples are in both runs ({agreement.only_a:,} only in A, {agreement.only_b:,} "
            f"only in B). Both give the same class to {agreement.same:,} of them: agreement "
            f"{agreement.fraction:.1%}.")
    parts = [html.P(text, id="compare-agreement")]
    if not agreement.disagreements:
        parts.append(html.P("They agree on every shared sample.", className="small text-muted",
                            id="compare-no-disagreements"))
        return html.Div(parts)
    shown = agreement.disagreements[:MAX_DISAGREEMENTS_SHOWN]
    rows = [{**row, "confidence_a": round(row["confidence_a"], 4), "confidence_b": round(row["confidence_b"], 4)}
            for row in shown]
    more = len(agreement.disagreements) - len(shown)
    parts += [
        html.H2(f"Samples the runs classify differently ({len(agreement.disagreements):,})", className="h6 mt-3"),
        html.P(f"The first {len(shown):,} by sample id are listed." if more else
               "Click a row to open the sample's explanation in run A.", className="small text-muted mb-1"),
        dag.AgGrid(id="compare-disagreements", rowData=rows, getRowId="params.data.sample_id",
                   columnDefs=[column(c, *DISAGREEMENT_HEADERS[c]) for c in DISAGREEMENT_HEADERS],
                   defaultColDef={"sortable": True, "filter": True, "resizable": True}, columnSize="sizeToFit",
                   dashGridOptions={"pagination": True, "paginationPageSize": 10,
                                    "paginationPageSizeSelector": [10, 25, 50, 100], "domLayout": "autoHeight"}),
        dcc.Store(id="compare-run-a", data=run_a.id),
        dcc.Location(id="compare-location", refresh="callback-nav"),
    ]
    return html.Div(parts)


def layout(a: str | None = None, b: str | None = None, **_query):
    denied = page_denied("predict")
    if denied:
        return denied
    if not a or not b:
        return not_allowed("Choose two runs to compare: tick them on My runs and press Compare.")
    portal = context.get()
    try:
        pair = comparison.compare_runs(portal, a, b, current_user.id, current_user.role)
    except runs.RunError as error:
        return html.Div([not_allowed(str(error)), dcc.Link("Back to My runs", href="/runs")])
    run_a, run_b, compared = pair.run_a, pair.run_b, pair.comparison
    listed = {row.run.id: row for row in lifecycle.described(portal, [(run_a, None), (run_b, None)], current_user.id,
                                                              current_user.role)}
    if pair.same_model:
        models = html.P(f"Both runs use model {run_a.model_name}:{run_a.model_version}.", className="small",
                        id="compare-models")
    else:
        models = dbc.Alert(f"The runs use different models ({run_a.model_name}:{run_a.model_version} and "
                           f"{run_b.model_name}:{run_b.model_version}): they are compared on sample ids and class "
                           f"names only, and a class one model does not predict counts zero for it.",
                           color="info", className="py-2 small", id="compare-models")
    return html.Div([
        html.H1("Compare two runs", className="h4"),
        dcc.Link("Back to My runs", href="/runs", className="small"),
        dbc.Row([_run_card(LABELS[0], listed.get(run_a.id), run_a), _run_card(LABELS[1], listed.get(run_b.id), run_b)],
                className="g-2 my-2"),
        models,
        dbc.Row([
            dbc.Col(dcc.Graph(id="compare-class-counts", config={"displaylogo": False},
                              figure=class_counts_comparison_figure(compared.classes, compared.counts_a,
                                                                    compared.counts_b, *LABELS)), lg=7),
            dbc.Col([html.H2("How confident each run is", className="h6 mt-2"),
                     _confidence_table(compared.confidence_a, compared.confidence_b)], lg=5),
        ]),
        html.H2("Agreement on the samples both runs hold", className="h5 mt-3"),
        _agreement_view(compared.agreement, run_a),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("compare-location", "pathname"), Input("compare-disagreements", "cellClicked"),
                  State("compare-run-a", "data"), prevent_initial_call=True)
    def open_sample(cell, run_id):
        require("explain")
        sample_id = browser_values.event(cell, "compare-disagreements.cellClicked").get("rowId")
        if not isinstance(sample_id, str) or not sample_id:
            return dash.no_update
        run = run_or_abort(run_id)  # run A, read by this user
        return explain_href(run.id, sample_id)
