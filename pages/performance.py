"""Performance of a model version on its held-out split, and two versions side by side. Every figure is
drawn from the metrics stored with the version at training time (engine.metrics.evaluate)."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, dcc, html

from components import figures
from components.glossary import column
from components.layout import metric_card
from components.version_choices import EMPTY_REGISTRY, model_choice, version_choice, version_options
from engine.registry import RegistryError
from pages.frame import page_denied
from portal import browser_values
from portal.accounts.permissions import require
from portal.core import context

dash.register_page(__name__, path="/performance", name="Performance", order=20, permission="view_performance")

GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png"}}


def _graph(figure, id_: str) -> dcc.Graph:
    return dcc.Graph(figure=figure, id=id_, config=GRAPH_CONFIG)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def headline(version) -> dbc.Row:
    h = version.headline_metrics
    cv = version.cross_validation
    cards = [
        ("Balanced accuracy", _fmt(h["balanced_accuracy"]), f"CV {cv['mean']:.3f} ± {cv['std']:.3f}"),
        ("Accuracy", _fmt(h["accuracy"]), f"{version.metrics['n_samples']} held-out samples"),
        ("Macro-F1", _fmt(h["macro_f1"]), None),
        ("Top-3 accuracy", _fmt(h["top_3_accuracy"]), None if h["top_3_accuracy"] is not None else "3 classes or fewer"),
        ("ROC AUC (macro)", _fmt(h["roc_auc_macro"]), None),
        ("Calibration error", _fmt(h["expected_calibration_error"]), f"Brier {h['brier_score']:.3f}"),
        ("Kept above threshold", f"{h['coverage']:.1%}", f"accuracy there {_fmt(h['accuracy_on_covered'])}"),
    ]
    return dbc.Row([dbc.Col(metric_card(t, v, n)) for t, v, n in cards], className="g-2 mb-3")


def _cached_version_view(version, normalise: bool) -> html.Div:
    """A version never changes once registered (its sha256 says so), so its figures are built once and
    kept by the portal."""
    registry = context.get().registry
    key = (str(registry.root), version.name, version.version, version.sha256, normalise)
    return context.get().caches.performance_views.get_or_create(
        key, lambda: version_view(version, "performance", normalise))


def version_view(version, prefix: str, normalise: bool) -> html.Div:
    """Everything about one version; `prefix` keeps ids unique when two versions share the page."""
    m = version.metrics
    importance = version.global_importance
    per_class = dag.AgGrid(id=f"{prefix}-per-class", rowData=figures.per_class_metrics_rows(m["per_class"]),
                           columnDefs=[column("class", "Class"), column("precision", "Precision", "precision"),
                                       column("recall", "Recall", "recall"), column("f1", "F1", "F1"),
                                       column("support", "Support", "support")],
                           defaultColDef={"sortable": True, "filter": True, "resizable": True},
                           columnSize="sizeToFit", style={"height": "520px"})
    return html.Div([
        headline(version),
        figure_tabs(prefix, [
            ("Errors by class", [dbc.Col(_graph(figures.confusion_matrix_figure(m["confusion_matrix"],
                                                                                normalise=normalise),
                                                f"{prefix}-confusion"), lg=7), dbc.Col(per_class, lg=5)]),
            ("ROC and precision-recall", [
                dbc.Col(_curve_picker(m["roc"], prefix), width=12),
                dbc.Col(_graph(figures.roc_curves_figure(m["roc"]), f"{prefix}-roc"), lg=6),
                dbc.Col(_graph(figures.precision_recall_figure(m["precision_recall"]), f"{prefix}-pr"), lg=6)]),
            ("Calibration and coverage", [
                dbc.Col(_graph(figures.calibration_figure(m["calibration"]), f"{prefix}-calibration"), lg=6),
                dbc.Col(_graph(figures.accuracy_coverage_figure(m["accuracy_coverage"], m["selective"]),
                               f"{prefix}-coverage"), lg=6)]),
            ("What the model uses", [
                dbc.Col(_graph(figures.feature_importance_figure(importance), f"{prefix}-importance"), lg=8),
                dbc.Col(_graph(figures.group_importance_figure(importance), f"{prefix}-groups"), lg=4)]),
            *_per_block_tab(version, prefix),
        ]),
    ])


def _per_block_tab(version, prefix: str) -> list:
    """For a model of several omics blocks: each block alone against all blocks, on the held-out split."""
    per_block = version.per_block
    if not per_block:
        return []
    rows = figures.per_block_rows(per_block)
    grid = dag.AgGrid(id=f"{prefix}-per-block", rowData=rows, columnSize="autoSize",
                      columnDefs=[{"field": k, "headerName": k.replace("_", " ")} for k in rows[0]],
                      dashGridOptions={"domLayout": "autoHeight"})
    return [("Each block alone", [
        dbc.Col(_graph(figures.per_block_figure(per_block), f"{prefix}-per-block-figure"), lg=6),
        dbc.Col([grid, html.P(per_block["method"].capitalize() + ".", className="small text-muted mt-2")], lg=6)])]


def figure_tabs(prefix: str, tabs: list[tuple[str, list]]) -> dcc.Tabs:
    """Figures in tabs of a row each: only the chosen tab is drawn, so the page opens fast."""
    return dcc.Tabs(id=f"{prefix}-tabs", value="0", children=[
        dcc.Tab(dbc.Row(columns, className="mt-3"), label=label, value=str(k))
        for k, (label, columns) in enumerate(tabs)])


def _curve_picker(roc: dict, prefix: str):
    """With many classes the curves are drawn for a few: this chooses which (default the best and worst)."""
    if len(roc) <= figures.CURVES_SHOWN:
        return html.Div()
    return dbc.Row(dbc.Col([
        dbc.Label("Classes drawn in colour in the ROC and precision-recall curves", html_for=f"{prefix}-curve-classes"),
        dcc.Dropdown(id=f"{prefix}-curve-classes", multi=True, options=sorted(roc, key=str.casefold),
                     value=figures.curve_classes(roc, "auc")),
    ], lg=8), className="mb-2")


def comparison_view(a, b, normalise: bool) -> html.Div:
    rows = figures.metrics_comparison_rows(a.metrics, b.metrics, a.ref, b.ref)
    side = [
        ("confusion", "Errors by class",
         lambda v: figures.confusion_matrix_figure(v.metrics["confusion_matrix"], normalise=normalise)),
        ("coverage", "Coverage",
         lambda v: figures.accuracy_coverage_figure(v.metrics["accuracy_coverage"], v.metrics["selective"])),
        ("calibration", "Calibration", lambda v: figures.calibration_figure(v.metrics["calibration"])),
        ("groups", "Feature groups", lambda v: figures.group_importance_figure(v.global_importance)),
    ]
    return html.Div([
        html.H2(f"{a.ref} and {b.ref} side by side", className="h5"),
        dag.AgGrid(id="performance-comparison", rowData=rows, columnSize="sizeToFit",
                   columnDefs=[{"field": k} for k in rows[0]] if rows else [],
                   dashGridOptions={"domLayout": "autoHeight"}),
        figure_tabs("performance-compared", [
            (title, [dbc.Col([html.H3(v.ref, className="h6"), _graph(draw(v), f"performance-{tag}-{side_}")], lg=6)
                     for v, side_ in ((a, "a"), (b, "b"))]) for tag, title, draw in side]),
    ])


def layout(model: str | None = None, version: str | None = None, **_query):
    denied = page_denied("view_performance")
    if denied:
        return denied
    names = context.get().registry.models()
    if not names:
        return html.P(EMPTY_REGISTRY)
    chosen = model_choice(names, model)
    return html.Div([
        html.H1("Model performance", className="h4"),
        html.P("All figures are computed on the version's held-out split, which played no part in training, "
               "model selection, calibration or the choice of the abstain threshold.", className="text-muted small"),
        dbc.Row([
            dbc.Col([dbc.Label("Model"), dcc.Dropdown(id="performance-model", options=names, value=chosen,
                                                      clearable=False)], md=3),
            dbc.Col([dbc.Label("Version"), dcc.Dropdown(id="performance-version", clearable=False,
                                                        value=browser_values.version_number(version))],
                    md=3),
            dbc.Col([dbc.Label("Compare with"), dcc.Dropdown(id="performance-compare", placeholder="another version")],
                    md=3),
            dbc.Col([dbc.Label("Confusion matrix"), dbc.RadioItems(
                id="performance-normalise", options=[{"label": "counts", "value": "counts"},
                                                     {"label": "row-normalised", "value": "rows"}],
                value="counts", inline=True)], md=3),
        ], className="mb-3"),
        dcc.Loading(html.Div(id="performance-content")),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("performance-version", "options"), Output("performance-version", "value"),
                  Output("performance-compare", "options"), Input("performance-model", "value"),
                  dash.State("performance-version", "value"))
    def versions(name, wanted):
        require("view_performance")
        registry = context.get().registry
        try:
            versions_ = registry.versions(name)
        except RegistryError:
            return [], None, []
        options = version_options(versions_)
        return options, version_choice(versions_, wanted, registry.default_version(name)), options

    @app.callback(Output("performance-roc", "figure"), Output("performance-pr", "figure"),
                  Input("performance-curve-classes", "value"), dash.State("performance-model", "value"),
                  dash.State("performance-version", "value"), prevent_initial_call=True)
    def curves(chosen, name, number):
        require("view_performance")
        if not (isinstance(chosen, list) and all(isinstance(c, str) for c in chosen) and isinstance(name, str)
                and isinstance(number, int) and not isinstance(number, bool)):
            flask.abort(400, description="choose classes of a model version")
        try:
            metrics = context.get().registry.version_of(name, number).metrics
        except RegistryError as error:
            flask.abort(404, description=str(error))
        return (figures.roc_curves_figure(metrics["roc"], chosen),
                figures.precision_recall_figure(metrics["precision_recall"], chosen))

    @app.callback(Output("performance-content", "children"), Input("performance-model", "value"),
                  Input("performance-version", "value"), Input("performance-compare", "value"),
                  Input("performance-normalise", "value"))
    def show(name, number, other, normalise):
        require("view_performance")
        if number is None:
            return html.Div()
        registry = context.get().registry
        try:
            version = registry.version_of(name, number)
            compared = registry.version_of(name, other) if other not in (None, number) else None
        except RegistryError as error:
            return dbc.Alert(str(error), color="danger")
        rows_normalised = normalise == "rows"
        if compared is not None:
            return comparison_view(version, compared, rows_normalised)
        return _cached_version_view(version, rows_normalised)
