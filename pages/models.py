"""Models: the registry. Each model's versions and aliases, a version's metadata and model card, the
dataset's provenance with license and citation. Admins move aliases (promote, roll back) after a
confirmation; every move is audited."""
from __future__ import annotations

import json

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from flask_login import current_user

from components.version_choices import EMPTY_REGISTRY, model_choice, version_choice, version_options
from engine.registry import PRODUCTION_ALIAS, RegistryError
from pages.frame import page_denied
from portal import browser_values
from portal.accounts import audit
from portal.accounts.permissions import allowed, require
from portal.core import context
from portal.core.states import AuditOutcome

dash.register_page(__name__, path="/models", name="Models", order=10, permission="view_models")

ALIASES = ("production", "staging")


def _short(sha: str) -> str:
    return sha.split(":")[-1][:12]


def version_rows(versions) -> list[dict]:
    rows = []
    for v in versions:
        h = v.headline_metrics
        rows.append({
            "version": v.version, "aliases": ", ".join(v.aliases), "algorithm": v.algorithm,
            "created": v.created.replace("T", " "), "balanced_accuracy": round(h["balanced_accuracy"], 3),
            "accuracy": round(h["accuracy"], 3), "macro_f1": round(h["macro_f1"], 3),
            "ece": round(h["expected_calibration_error"], 3), "seed": v.seed,
            "sha256": _short(v.sha256), "dataset_checksum": _short(v.dataset_checksum),
        })
    return rows


COLUMNS = [
    {"field": "version", "width": 95}, {"field": "aliases"}, {"field": "algorithm"},
    {"field": "created"}, {"field": "balanced_accuracy", "headerName": "Bal. accuracy"},
    {"field": "accuracy"}, {"field": "macro_f1", "headerName": "Macro-F1"}, {"field": "ece", "headerName": "ECE"},
    {"field": "seed", "width": 80}, {"field": "sha256", "headerName": "Artifact sha256"},
    {"field": "dataset_checksum", "headerName": "Data sha256"},
]


def _definition_list(items: list[tuple[str, object]]) -> html.Dl:
    children = []
    for term, value in items:
        children += [html.Dt(term, className="col-sm-3"), html.Dd(value, className="col-sm-9")]
    return html.Dl(children, className="row small mb-0")


def model_card_view(version) -> dbc.Card:
    card = version.model_card
    metrics = card["metrics"]
    return dbc.Card([
        dbc.CardHeader(html.Strong(f"Model card: {version.ref}")),
        dbc.CardBody([
            dbc.Alert(card["intended_use"], color="warning", className="py-2"),
            _definition_list([
                ("Out of scope", card["out_of_scope"]),
                ("Method", card["method"]),
                ("Held-out metrics", ", ".join(
                    f"{k.replace('_', ' ')} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))),
                ("Cross-validation", f"balanced accuracy {metrics['cv_balanced_accuracy']['mean']:.3f} "
                                     f"± {metrics['cv_balanced_accuracy']['std']:.3f}"),
            ]),
            html.H3("Limitations", className="h6 mt-3"),
            html.Ul([html.Li(item) for item in card["limitations"]], className="small"),
        ]),
    ], className="mb-3", id="models-card")


def provenance_view(provenance: dict) -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader(html.Strong(f"Data: {provenance['title']}")),
        dbc.CardBody([
            html.P(provenance["description"], className="small"),
            _definition_list([
                ("Source", provenance["source"]),
                ("Files", html.Ul([html.Li([html.Code(f["member"]), f" sha256 {f['sha256'][:16]}…"])
                                   for f in provenance["files"]], className="mb-0")),
                ("Package license", provenance["package_license"]),
                ("Data license", provenance["data_license"]),
                ("Cite", html.Ul([html.Li(c) for c in provenance["citation"]], className="mb-0")),
                ("Samples per class", ", ".join(f"{k} {v}" for k, v in provenance["samples_per_class"].items())),
                ("Excluded classes", ", ".join(f"{k} {v}" for k, v in provenance["excluded_classes"].items()) or "none"),
                ("Feature groups", ", ".join(f"{k} {v}" for k, v in provenance["feature_groups"].items())),
                ("Policy", provenance["policy"]),
            ]),
        ]),
    ], className="mb-3", id="models-provenance")


def metadata_view(version) -> dbc.Card:
    cv, split = version.cross_validation, version.split
    return dbc.Card([
        dbc.CardHeader(html.Strong("Lineage and training")),
        dbc.CardBody(_definition_list([
            ("Artifact sha256", html.Code(version.sha256)),
            ("Dataset", f"{version.dataset_id} ({version.dataset_checksum})"),
            ("Seed", str(version.seed)),
            ("Algorithm", f"{version.algorithm}: {json.dumps(version.hyperparameters)}"),
            ("Split", f"{split['method']}; {split['n_train']} training, {split['n_test']} held-out samples"),
            ("Candidates", html.Ul([html.Li(f"{c['candidate']}: {c['mean']:.3f} ± {c['std']:.3f}")
                                    for c in cv["candidates"]], className="mb-0")),
            ("Selection", f"{cv['selection']} on {cv['folds']}-fold {cv['metric']}: {cv['selected']}"),
            ("Abstain threshold", f"confidence {version.abstain_threshold:.3f} for "
                                  f"{version.abstain_target_accuracy:.0%} validation accuracy"),
            ("Temperature", str(version.temperature)),
            ("Packages", ", ".join(f"{k} {v}" for k, v in version.package_versions.items())),
            ("Created", version.created),
        ])),
    ], className="mb-3", id="models-metadata")


def alias_controls() -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H3("Promote or roll back", className="h6"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id="models-alias-version", placeholder="Version", clearable=False), md=4),
            dbc.Col(dcc.Dropdown(id="models-alias-name", options=list(ALIASES), value=PRODUCTION_ALIAS,
                                 clearable=False), md=4),
            dbc.Col(dbc.Button("Point alias at version", id="models-alias-apply", color="danger"), md=4),
        ], className="g-2"),
        dcc.ConfirmDialog(id="models-alias-confirm"),
        html.Div(id="models-alias-message", className="mt-2"),
    ]), className="mb-3", id="models-alias-controls")


def layout(model: str | None = None, version: str | None = None, **_query):
    denied = page_denied("view_models")
    if denied:
        return denied
    names = context.get().registry.models()
    if not names:
        return html.P(EMPTY_REGISTRY)
    chosen = model_choice(names, model)
    return html.Div([
        html.H1("Model registry", className="h4"),
        dbc.Row([
            dbc.Col([dbc.Label("Model"), dcc.Dropdown(id="models-name", options=names, value=chosen,
                                                      clearable=False)], md=4),
            dbc.Col([dbc.Label("Version"), dcc.Dropdown(id="models-version", clearable=False,
                                                        value=browser_values.version_number(version))],
                    md=3),
        ], className="mb-3"),
        html.Div(id="models-versions", className="mb-3"),
        alias_controls() if allowed(current_user.role, "manage_models") else html.Div(),
        dcc.Store(id="models-refresh", data=0),  # bumped after an alias moves
        html.Div(id="models-detail"),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("models-version", "options"), Output("models-version", "value"),
                  Output("models-versions", "children"),
                  Input("models-name", "value"), Input("models-refresh", "data"),
                  State("models-version", "value"))
    def show_versions(name, _moved, wanted):
        require("view_models")
        registry = context.get().registry
        try:
            versions = registry.versions(name)
        except RegistryError as error:
            return [], None, dbc.Alert(str(error), color="danger")
        value = version_choice(versions, wanted, registry.default_version(name))
        grid = dag.AgGrid(id="models-versions-grid", rowData=version_rows(versions), columnDefs=COLUMNS,
                          defaultColDef={"sortable": True, "resizable": True, "filter": True},
                          dashGridOptions={"domLayout": "autoHeight"}, columnSize="sizeToFit")
        return version_options(versions), value, grid

    @app.callback(Output("models-alias-version", "options"), Input("models-version", "options"))
    def alias_version_choices(options):
        require("manage_models")
        return options

    @app.callback(Output("models-detail", "children"), Input("models-name", "value"),
                  Input("models-version", "value"))
    def show_version(name, number):
        require("view_models")
        if number is None:
            return no_update
        try:
            version = context.get().registry.version_of(name, number)
        except RegistryError as error:
            return dbc.Alert(str(error), color="danger")
        return dbc.Row([
            dbc.Col([model_card_view(version), metadata_view(version)], lg=6),
            dbc.Col(provenance_view(version.provenance), lg=6),
        ])

    @app.callback(Output("models-alias-confirm", "displayed"), Output("models-alias-confirm", "message"),
                  Input("models-alias-apply", "n_clicks"), State("models-name", "value"),
                  State("models-alias-version", "value"), State("models-alias-name", "value"),
                  prevent_initial_call=True)
    def ask(_clicks, name, number, alias):
        require("manage_models")
        if number is None:
            return False, ""
        current = context.get().registry.aliases(name).get(alias)
        return True, (f"Point {name}@{alias} at version {number}? It now points at "
                      f"{'version ' + str(current) if current else 'nothing'}. Every prediction that asks for "
                      f"{alias} will use version {number}.")

    @app.callback(Output("models-alias-message", "children"), Output("models-refresh", "data"),
                  Input("models-alias-confirm", "submit_n_clicks"), State("models-name", "value"), State("models-alias-version", "value"),
                  State("models-alias-name", "value"), prevent_initial_call=True)
    def move_alias(_submitted, name, number, alias):
        require("manage_models")
        registry = context.get().registry
        previous = registry.aliases(name).get(alias)
        try:
            registry.set_alias(name, alias, int(number))
        except (RegistryError, TypeError, ValueError) as error:
            audit.record("model.alias", outcome=AuditOutcome.FAILED, target=f"{name}@{alias}",
                         details={"error": str(error)})
            return dbc.Alert(f"Not changed: {error}", color="danger"), no_update
        audit.record("model.alias", target=f"{name}@{alias}", details={"from": previous, "to": int(number)})
        return (dbc.Alert(f"{name}@{alias} now points at version {number} (was {previous}).", color="success",
                          id="models-alias-done"), _submitted)
