"""Notebooks: pick a parameterized notebook, fill its form (made from papermill's view of its parameters),
run it as a background job with progress and cancel, and find every run in the history below, filtered
by notebook, user and status. `?notebook=NAME` opens a notebook; `?rerun=RUN_ID` fills the form with a
run's parameters."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from flask_login import current_user

from components.layout import run_cancelled
from components.notebook_form import INPUT, MODEL, VERSION, Choices, field_id, notebook_form
from components.version_choices import alias_and_version_options
from engine import datasets, reports
from engine.registry import PRODUCTION_ALIAS
from engine.training import ALGORITHMS
from pages.frame import page_denied
from portal import browser_values
from portal.accounts.permissions import allowed, require
from portal.core import context
from portal.core.states import RunAccess, RunStatus
from portal.jobs.callbacks import register_job
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import inputs as notebook_inputs
from portal.notebooks import runs as notebook_runs
from portal.notebooks.access import notebook_run_or_abort
from portal.notebooks.catalog import ParameterError
from portal.predictions import runs
from portal.predictions.runs import RunError

dash.register_page(__name__, path="/notebooks", name="Notebooks", order=30, permission="view_notebooks")

HISTORY_COLUMNS = ["created", "notebook", "status", "user", "model", "duration_s", "parameters"]


def _catalog() -> dict:
    return notebook_catalog.catalog(context.get().caches.notebook_catalog)


def _notebook(name: str):
    if not isinstance(name, str):  # a request written by hand: "no notebook named ..." as for any other name
        name = repr(name)[:80]
    return notebook_catalog.get(context.get().caches.notebook_catalog, name)


def version_options(registry, name: str) -> list[dict]:
    return alias_and_version_options(registry.aliases(name), registry.versions(name))


def choices() -> Choices:
    portal = context.get()
    registry = portal.registry
    models = registry.models()
    versions = {name: version_options(registry, name) for name in models}
    return Choices(
        models=models, versions=versions,
        seeds={name: {o["value"]: registry.version_of(name, o["value"]).seed for o in options}
               for name, options in versions.items()},
        datasets=list(datasets.SPECS), algorithms=["auto", *ALGORITHMS],
        input_runs=[{"label": c.label, "value": c.value}
                    for c in notebook_inputs.choices(portal, current_user.id, current_user.role)],
    )


def _visible_runs(notebook: str | None = None, owner: int | None = None, status: str | None = None) -> list:
    return notebook_runs.list_runs(context.get(), current_user.id, current_user.role, notebook=notebook,
                                   owner=owner, status=status)


def history_rows(found: list, emails: dict[int, str] | None = None) -> list[dict]:
    if emails is None:
        emails = notebook_runs.owners(context.get(), [r.user_id for r in found])
    return [{
        "run": r.id, "created": r.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"), "notebook": r.notebook,
        "status": r.status, "user": emails.get(r.user_id, "system"),
        "model": f"{r.model_name}:{r.model_version}" if r.model_name else "",
        "duration_s": r.duration_seconds,
        "parameters": ", ".join(f"{k}={v}" for k, v in notebook_runs.shown_parameters(r).items()),
    } for r in found]


def _history(notebooks: list[str]) -> html.Div:
    found = _visible_runs()
    users = notebook_runs.owners(context.get(), {r.user_id for r in found})
    return html.Div([
        html.H2("History", className="h5 mt-4"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(notebooks, None, id="notebooks-filter-notebook", placeholder="every notebook")),
            dbc.Col(dcc.Dropdown([{"label": e, "value": i} for i, e in sorted(users.items(), key=lambda x: x[1])],
                                 None, id="notebooks-filter-user", placeholder="every user")),
            dbc.Col(dcc.Dropdown([status.value for status in RunStatus], None, id="notebooks-filter-status",
                                 placeholder="every status")),
        ], className="g-2 mb-2"),
        html.P("Click a run to open its report.", className="small text-muted"),
        dag.AgGrid(id="notebooks-history", rowData=history_rows(found, users), getRowId="params.data.run",
                   columnDefs=[{"field": c} for c in HISTORY_COLUMNS],
                   defaultColDef={"sortable": True, "filter": True, "resizable": True},
                   dashGridOptions={"pagination": True, "paginationPageSize": 20}, columnSize="sizeToFit"),
    ])


def _catalog_list(catalog: dict, chosen: str | None) -> dbc.ListGroup:
    """Every notebook: title, description and parameters; a click opens its form."""
    return dbc.ListGroup([
        dbc.ListGroupItem([
            html.Div(spec.title, className="fw-semibold"),
            html.Div(spec.description, className="small"),
            html.Div(", ".join(p.name for p in spec.parameters), className="small text-muted"),
        ], href=f"/notebooks?notebook={name}", active=name == chosen, id=f"notebooks-list-{name}")
        for name, spec in catalog.items()
    ], id="notebooks-list")


def _form(spec, values: dict | None = None) -> list:
    """The notebook's form; one that reads samples says where their data-use basis comes from."""
    note = html.P("The samples come from the portal: a prediction run's, with the data-use basis recorded at its "
                  "upload, or a model's held-out split (public data). That basis is recorded with the run.",
                  className="small text-muted", id="notebooks-data-use-note")
    return [notebook_form(spec, choices(), values), *([note] if spec.takes_input_file else [])]


def _runner(catalog: dict, chosen: str, rerun_values: dict | None) -> html.Div:
    spec = catalog[chosen]
    return html.Div([
        dbc.Row([
            dbc.Label("Notebook", width=3, className="fw-semibold"),
            dbc.Col(dcc.Dropdown([{"label": s.title, "value": name} for name, s in catalog.items()], chosen,
                                 id="notebooks-choice", clearable=False), width=9),
        ], className="mb-2"),
        html.Div(_form(spec, rerun_values), id="notebooks-form"),
        html.Div([
            dbc.Button("Run", id="notebooks-run", color="primary", className="me-2"),
            dbc.Button("Cancel", id="notebooks-cancel", color="danger", outline=True, disabled=True),
        ], className="mt-2 mb-2"),
        dbc.Progress(id="notebooks-progress", value=0, max=100, striped=True, className="mb-1"),
        html.Div(id="notebooks-progress-label", className="small text-muted"),
        html.Div(id="notebooks-message", className="mt-2"),
        dcc.Store(id="notebooks-queued"), dcc.Store(id="notebooks-finished"),
    ])


def layout(notebook: str | None = None, rerun: str | None = None, **_query):
    denied = page_denied("view_notebooks")
    if denied:
        return denied
    catalog = _catalog()
    rerun_values = None
    if rerun:
        try:
            previous = notebook_runs.get_run(context.get(), rerun, current_user.id, current_user.role)
            notebook, rerun_values = previous.notebook, previous.parameters
        except RunError as error:
            return dbc.Alert(str(error), color="danger", id="notebooks-rerun-error")
    # a repeated ?notebook= arrives as a list: the first notebook then
    chosen = notebook if isinstance(notebook, str) and notebook in catalog else next(iter(catalog), None)
    may_run = allowed(current_user.role, "run_notebooks")
    return html.Div([
        html.H1("Notebooks", className="h4"),
        html.P("Parameterized analyses run by papermill on the engine. Each run keeps its executed notebook, "
               "its HTML report and what it read, so it can be reproduced.", className="small text-muted"),
        dbc.Row([
            dbc.Col(_catalog_list(catalog, chosen), md=4),
            dbc.Col(_runner(catalog, chosen, rerun_values) if may_run and chosen else
                    dbc.Alert("Your role may read notebook runs but not start them.", color="secondary"), md=8),
        ]),
        _history(list(catalog)),
        dcc.Location(id="notebooks-location", refresh="callback-nav"),
    ])


def _given(states: list[dict]) -> tuple[dict, object]:
    """(parameter values by name, the chosen input: a prediction run or a held-out split) from the form's
    fields."""
    values, chosen = {}, None
    for item in states:
        if item["id"]["role"] == INPUT:
            chosen = item.get("value")
        else:
            values[item["id"]["name"]] = item.get("value")
    return values, chosen


def register_callbacks(app: dash.Dash) -> None:
    register_job(app, "notebooks", "run_notebooks", notebook_runs.execute, notebook_runs.cancel,
                 lambda done, total: f"cell {done} of {total}", lambda: run_cancelled("notebooks"),
                 may_start=notebook_runs.own_run)

    @app.callback(Output("notebooks-form", "children"), Input("notebooks-choice", "value"),
                  prevent_initial_call=True)
    def form(name):
        require("run_notebooks")
        return _form(_notebook(name))

    @app.callback(Output(field_id(ALL, VERSION), "options"), Output(field_id(ALL, VERSION), "value"),
                  Input(field_id(ALL, MODEL), "value"), State(field_id(ALL, VERSION), "value"),
                  prevent_initial_call=True)
    def versions(models, current):
        require("run_notebooks")
        if not models or not current or not models[0]:  # no version field on this notebook's form
            return [no_update] * len(current), [no_update] * len(current)
        options = version_options(context.get().registry, models[0])
        keep = [c if any(o["value"] == c for o in options) else PRODUCTION_ALIAS for c in current]
        return [options] * len(current), keep

    @app.callback(Output(field_id("seed", ALL), "value"), Input(field_id(ALL, MODEL), "value"),
                  Input(field_id(ALL, VERSION), "value"), State(field_id("seed", ALL), "value"),
                  prevent_initial_call=True)
    def version_seed(models, versions, seeds):
        """model_evaluation's seed follows the chosen version: its own training seed (a form without a
        registered model and version, such as train_model's, keeps its seed)."""
        require("run_notebooks")
        if not seeds or not models or not versions or not models[0]:
            return [no_update] * len(seeds)
        try:
            seed = reports.resolve_version(models[0], versions[0], context.get().registry).seed
        except ValueError:
            return [no_update] * len(seeds)
        return [seed] * len(seeds)

    @app.callback(Output(field_id(ALL, MODEL), "value"), Input(field_id(ALL, INPUT), "value"),
                  State(field_id(ALL, MODEL), "value"), prevent_initial_call=True)
    def model_of_input(inputs, models):
        """A prediction run's samples fit the model that predicted them, a held-out split its model's:
        choose it with the input."""
        require("run_notebooks")
        if not inputs or not inputs[0] or not models:
            return [no_update] * len(models)
        try:
            input_run, input_split = notebook_inputs.parse_choice(inputs[0])
            if input_split:
                name = notebook_inputs.resolve_split(context.get(), input_split).name
            else:
                name = runs.get_run(context.get(), input_run, current_user.id, current_user.role,
                                    RunAccess.READ).model_name
        except (RunError, ParameterError):
            return [no_update] * len(models)
        return [name] * len(models)

    @app.callback(Output("notebooks-queued", "data"), Output("notebooks-message", "children"),
                  Input("notebooks-run", "n_clicks"), State("notebooks-choice", "value"),
                  State(field_id(ALL, ALL), "value"), prevent_initial_call=True)
    def queue(_clicks, name, _values):
        require("run_notebooks")
        given, chosen = _given(ctx.states_list[1])
        try:
            input_run, input_split = notebook_inputs.parse_choice(chosen)
            run = notebook_runs.queue(context.get(), _notebook(name), given, current_user.id, current_user.role,
                                      input_run=input_run, input_split=input_split)
        except ParameterError as error:
            return no_update, dbc.Alert([html.Div("Not run: fix these parameters."),
                                         html.Ul([html.Li(p) for p in error.problems])],
                                        color="danger", id="notebooks-parameter-error")
        except RunError as error:
            return no_update, dbc.Alert(str(error), color="danger", id="notebooks-parameter-error")
        return run.id, html.Span(f"Running {name}… the run is recorded: you can leave and find it in the history.")

    @app.callback(Output("notebooks-message", "children", allow_duplicate=True),
                  Output("notebooks-history", "rowData", allow_duplicate=True),
                  Input("notebooks-finished", "data"), prevent_initial_call=True)
    def finished(outcome):
        require("run_notebooks")
        outcome = browser_values.event(outcome, "notebooks-finished")
        run_id, status = outcome.get("run"), outcome.get("status", RunStatus.FAILED)
        link = dcc.Link("Open the report", href=f"/notebooks/runs/{run_id}", id="notebooks-open-run")
        color = "success" if status == RunStatus.DONE else "warning"
        return (dbc.Alert([f"The run ended as {status}. ", link], color=color, id="notebooks-outcome"),
                history_rows(_visible_runs()))

    @app.callback(Output("notebooks-history", "rowData"), Input("notebooks-filter-notebook", "value"),
                  Input("notebooks-filter-user", "value"), Input("notebooks-filter-status", "value"),
                  prevent_initial_call=True)
    def filter_history(notebook, owner, status):
        require("view_notebooks")
        notebook, status = (browser_values.text(value, field, 100) for value, field in
                            ((notebook, "notebooks-filter-notebook"), (status, "notebooks-filter-status")))
        return history_rows(_visible_runs(notebook, browser_values.record_id(owner, "notebooks-filter-user"), status))

    @app.callback(Output("notebooks-location", "pathname"), Input("notebooks-history", "cellClicked"),
                  prevent_initial_call=True)
    def open_run(cell):
        require("view_notebooks")
        run_id = browser_values.event(cell, "notebooks-history.cellClicked").get("rowId")
        if not run_id:
            return no_update
        notebook_run_or_abort(run_id)
        return f"/notebooks/runs/{run_id}"
