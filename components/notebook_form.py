"""The parameter form of a notebook, built from its papermill parameters: a dropdown where the registry or
the engine knows the choices (models, versions, datasets, algorithms, the user's prediction runs), a
number, text or checkbox field otherwise, each with its help. Arguments in, components out."""
from __future__ import annotations

from dataclasses import dataclass, field

import dash_bootstrap_components as dbc
from dash import dcc, html

PARAM = "nb-param"
MODEL, VERSION, INPUT, PLAIN = "model", "version", "input", "plain"
VERSION_SEED = -1  # a seed that means "the version's own training seed" (engine.reports.VERSION_SEED)
SPLIT_PREFIX = "split:"  # an input value naming a held-out split, "split:<model>:<version>" (as the portal's)


@dataclass(frozen=True)
class Choices:
    """What the portal offers for parameters with known values."""

    models: list[str]
    versions: dict[str, list[dict]]  # model -> dropdown options (aliases, then version numbers)
    datasets: list[str]
    algorithms: list[str]
    input_runs: list[dict]  # dropdown options: the finished prediction runs the user may read, then held-out splits
    seeds: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> version option -> training seed


def field_id(name: str, role: str) -> dict:
    return {"type": PARAM, "name": name, "role": role}


def _role(spec, name: str) -> str:
    if name == "model" and spec.parameter("dataset") is None:
        return MODEL  # a registered model; for training, a new version's name (free text)
    if name == "version":
        return VERSION
    if name == "input_file" and spec.takes_input_file:
        return INPUT
    return PLAIN


def follows_version(spec, name: str) -> bool:
    """Whether the parameter is the seed of a registered version's held-out split (model_evaluation's),
    which the form fills with the chosen version's own training seed."""
    return name == "seed" and spec.parameter("dataset") is None and spec.parameter("version") is not None


def version_seed(choices: Choices, model, version, value):
    """What a seed field shows: `value`, or the chosen version's training seed for VERSION_SEED."""
    if value == VERSION_SEED:
        return choices.seeds.get(model, {}).get(version, value)
    return value


def _field(spec, parameter, value, choices: Choices, filled: dict):
    role = _role(spec, parameter.name)
    id_ = field_id(parameter.name, role)
    model_value = filled.get("model")
    if follows_version(spec, parameter.name):
        value = version_seed(choices, model_value, filled.get("version"), value)
    if role == MODEL:
        return dcc.Dropdown(choices.models, value, id=id_, clearable=False)
    if role == VERSION:
        return dcc.Dropdown(choices.versions.get(model_value, []), value, id=id_, clearable=False)
    if role == INPUT:
        return dcc.Dropdown(choices.input_runs, value, id=id_,
                            placeholder="a finished prediction run or a model's held-out split")
    if parameter.name == "dataset":
        return dcc.Dropdown(choices.datasets, value, id=id_, clearable=False)
    if parameter.name == "algorithm":
        return dcc.Dropdown(choices.algorithms, value, id=id_, clearable=False)
    if parameter.type == "bool":
        return dbc.Checkbox(value=bool(value), id=id_, label=parameter.name)
    if parameter.type in ("int", "float"):
        return dcc.Input(type="number", value=value, id=id_, step=1 if parameter.type == "int" else "any",
                         className="form-control", debounce=True)
    return dcc.Input(type="text", value=value or "", id=id_, className="form-control", debounce=True)


def notebook_form(spec, choices: Choices, values: dict | None = None) -> html.Div:
    """One labelled field per parameter, filled with `values` (a rerun's) or the notebook's defaults."""
    values = values or {}
    filled = {p.name: values.get(p.name, p.default) for p in spec.parameters}
    if spec.takes_input_file:
        split = values.get("input_split")  # a rerun's input, as the dropdown's value
        filled["input_file"] = f"{SPLIT_PREFIX}{split}" if split else values.get("input_run")
    rows = []
    for parameter in spec.parameters:
        if parameter.name == "input_file":  # in the portal, samples come from a prediction run, not a path
            label, note = "input", ("the samples of a finished prediction run, or the held-out split of a model "
                                    "version (real samples with known classes); its model is chosen with it")
        else:
            label, note = parameter.name, f"{parameter.help} ({parameter.type}, default {parameter.default!r})"
            if follows_version(spec, parameter.name):
                note += "; filled with the chosen version's training seed"
        rows.append(dbc.Row([
            dbc.Label(label, width=3, className="fw-semibold", html_for=""),
            dbc.Col([_field(spec, parameter, filled[parameter.name], choices, filled),
                     dbc.FormText(note)], width=9),
        ], className="mb-2"))
    return html.Div([html.P(spec.description, className="text-muted", id="notebook-description"), *rows])
