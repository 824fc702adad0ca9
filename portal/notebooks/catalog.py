"""The notebooks the portal offers (notebooks/*.ipynb), and the checks of their parameters.

Titles and descriptions come from each notebook's metadata (`cancer_alpha`), parameters from
`papermill.inspect_notebook` (name, type, default, help). Values are checked here before any run (type,
then the models, versions, datasets and algorithms the registry and engine know), so a bad one gets a
clear message and no run; the notebooks check again when papermill runs them directly."""
from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

from engine import reports
from engine.caching import BoundedCache
from engine.registry import Registry
from portal.core.settings import PROJECT_ROOT

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
INPUT_FILE = "input_file"  # the parameter naming a file of samples
TYPES = {"str": str, "int": int, "float": float, "bool": bool}
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


class ParameterError(ValueError):
    """Parameters that cannot run: one message per problem, each naming the parameter."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # str, int, float or bool
    default: object
    help: str


@dataclass(frozen=True)
class NotebookSpec:
    name: str  # the file name without .ipynb
    path: Path
    title: str
    description: str
    parameters: tuple[Parameter, ...]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def takes_input_file(self) -> bool:
        return self.parameter(INPUT_FILE) is not None


def catalog(cache: BoundedCache, folder: Path = NOTEBOOKS_DIR) -> dict[str, NotebookSpec]:
    """Every notebook of the folder by name, kept in `cache` (the portal's `caches.notebook_catalog`) and
    read again only when a file changes: the key holds every file's name and modification time."""
    paths = sorted(Path(folder).glob("*.ipynb"))
    key = (str(folder), tuple((str(p), p.stat().st_mtime_ns) for p in paths))
    return cache.get_or_create(key, lambda: {p.stem: _read(p) for p in paths})


def get(cache: BoundedCache, name: str, folder: Path = NOTEBOOKS_DIR) -> NotebookSpec:
    notebooks = catalog(cache, folder)
    if name not in notebooks:
        raise ParameterError([f"no notebook named {name!r}; there are {', '.join(notebooks) or 'none'}"])
    return notebooks[name]


def _read(path: Path) -> NotebookSpec:
    import nbformat
    import papermill

    logging.getLogger("papermill").setLevel(logging.WARNING)  # it logs every notebook it inspects
    meta = nbformat.read(str(path), as_version=4).metadata.get("cancer_alpha", {})
    parameters = tuple(
        Parameter(name=name, type=info["inferred_type_name"] if info["inferred_type_name"] in TYPES else "str",
                  default=ast.literal_eval(info["default"]), help=info.get("help") or "")
        for name, info in papermill.inspect_notebook(str(path)).items()
    )
    return NotebookSpec(name=path.stem, path=path, title=meta.get("title", path.stem),
                        description=meta.get("description", ""), parameters=parameters)


def convert(parameter: Parameter, value) -> object:
    """A value of the parameter's type from what a form or a command line sends (text or a value)."""
    kind = parameter.type
    if value is None or (isinstance(value, str) and not value.strip() and kind != "str"):
        return parameter.default
    if kind == "str":
        return str(value).strip()
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE | FALSE:
            return text in TRUE
        raise ValueError(f"{parameter.name} must be true or false, got {value!r}")
    if kind == "int":
        return reports.require_int(parameter.name, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{parameter.name} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{parameter.name} must be a finite number, got {value!r}")
    return number


def check(spec: NotebookSpec, given: dict, registry: Registry, *, files_allowed: bool) -> dict:
    """The full parameter set of a run: defaults for what is not given, every value converted and checked.
    `files_allowed`: whether an input file may be a path on this machine (the command line) or must come
    from a prediction run (the portal, which fills it in itself when the run starts)."""
    problems = [f"unknown parameter {name!r}; {spec.name} takes {', '.join(p.name for p in spec.parameters)}"
                for name in given if spec.parameter(name) is None]
    values = {}
    for parameter in spec.parameters:
        try:
            values[parameter.name] = convert(parameter, given.get(parameter.name))
        except ValueError as error:
            problems.append(str(error))
    if not problems:
        problems += _domain_problems(spec, values, registry, files_allowed)
    if problems:
        raise ParameterError(problems)
    return values


def _domain_problems(spec: NotebookSpec, values: dict, registry: Registry, files_allowed: bool) -> list[str]:
    """Models and versions from the registry; datasets, algorithms and bounds from the engine's own
    checks (the ones the notebooks run), so both say the same thing."""
    problems = []

    def checked(function, *args):
        try:
            function(*args)
        except ValueError as error:
            problems.append(str(error))

    if "dataset" in values:  # training: a new version of `model` (empty: the dataset's default name)
        checked(reports.training_parameters, values["dataset"], values.get("algorithm", "auto"),
                values.get("seed", 0), values.get("cv_folds", 5), values.get("model", ""))
    elif "model" in values:
        checked(reports.resolve_version, values["model"], values.get("version", "production"), registry)
    for name in ("seed", "top_k", "top_n"):
        if name in values and "dataset" not in values:
            checked(reports.require_int, name, values[name], reports.VERSION_SEED if name == "seed" else 1,
                    2**32 - 2 if name == "seed" else 1000)
    if spec.takes_input_file and files_allowed:
        checked(reports.input_path, values[INPUT_FILE])
    elif spec.takes_input_file and values[INPUT_FILE]:
        problems.append(f"{INPUT_FILE}: in the portal, choose one of your prediction runs, not a path")
    return problems
