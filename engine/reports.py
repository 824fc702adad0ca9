"""What the parameterized notebooks in notebooks/ share: parameter checks, the held-out split recomputed
from a model version's dataset and seed, metric comparison, cohort tables and the summary line.

The notebooks are run by papermill (the portal's notebook runner, or a shell). Each ends with a cell
tagged `summary` that prints exactly one line, `json.dumps(summary)`, a JSON object with at least
`model`, `version`, `sha256` (the artifact's) and `data_checksum` ("sha256:<hex>": of the input file, or
the dataset's checksum); `read_summary` reads it back from an executed notebook.

Bad parameters raise ValueError with a message naming the parameter and the bad value, before any slow
step. A result that does not reproduce (another held-out split, other metrics) raises
ReproducibilityError.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine import datasets, settings
from engine.checksums import sha256_file
from engine.headline import headline
from engine.registry import NAME_PATTERN, ModelVersion, Registry, RegistryError
from engine.schema import FeatureSchema

STAGING = "staging"  # the alias a notebook-trained version gets: never production
LABEL_COLUMN = "true_label"  # an optional column of known classes in an input file (as the portal's)
SUMMARY_TAG = "summary"
PARAMETERS_TAG = "parameters"
REQUIRED_SUMMARY_KEYS = ("model", "version", "sha256", "data_checksum")
METRIC_TOLERANCE = 1e-9
MAX_EXPLAINED_PER_CLASS = 200  # samples per predicted class explained with SHAP (the first in file order)

class ReproducibilityError(RuntimeError):
    """A stored result (held-out split, metrics) is not what recomputing it gives."""


# ---------------------------------------------------------------------------------------------
# Parameters


def require_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """`value` as an int (an int, or a text of digits as a form may send), within the bounds."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):  # not isdigit(): it takes "²"
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"parameter {name} must be a whole number, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"parameter {name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"parameter {name} must be at most {maximum}, got {value}")
    return value


VERSION_SEED = -1  # a seed parameter's default in model_evaluation: the version's own training seed


def evaluation_seed(version: ModelVersion, seed) -> int:
    """The seed that fixes `version`'s held-out split: `seed`, or the version's own training seed for
    VERSION_SEED (-1). ValueError for anything but a whole number from -1 to 2**32 - 2."""
    seed = require_int("seed", seed, minimum=VERSION_SEED, maximum=2**32 - 2)
    return version.seed if seed == VERSION_SEED else seed


def require_text(name: str, value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"parameter {name} must be a text, got {value!r}")
    return value.strip()


def resolve_version(model: str, version: str | int = "production",
                    registry: Registry | None = None) -> ModelVersion:
    """The registered version of `model` named by `version`: a version number or an alias. ValueError
    names the model, version or alias that does not exist and what does."""
    registry = registry or Registry()
    model = require_text("model", model)
    if not NAME_PATTERN.match(model):
        raise ValueError(f"unknown model {model!r}: a model name is lower-case letters, digits and dashes")
    known = registry.models()
    if model not in known:
        raise ValueError(f"unknown model {model!r}; the registry at {registry.root} holds "
                         f"{', '.join(known) or 'no model'}")
    text = str(version).strip()
    if not text:
        raise ValueError("parameter version is empty: give a version number or an alias such as production")
    try:
        return registry.version_of(model, text)
    except RegistryError as error:
        raise ValueError(f"unknown version {text!r} of model {model!r}: {error}") from None


def training_parameters(dataset: str, algorithm: str, seed, cv_folds, model: str) -> tuple[str, str, int, int, str]:
    """(dataset, algorithm, seed, cv_folds, model name) checked. An empty model name is the dataset's
    default model (as `python -m engine train` and bootstrap name it)."""
    from engine.cli import DEFAULT_MODELS
    from engine.training import ALGORITHMS

    dataset = require_text("dataset", dataset)
    if dataset not in datasets.SPECS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(datasets.SPECS)}")
    algorithm = require_text("algorithm", algorithm)
    if algorithm not in ("auto", *ALGORITHMS):
        raise ValueError(f"unknown algorithm {algorithm!r}; choose auto or one of {', '.join(ALGORITHMS)}")
    seed = require_int("seed", seed, minimum=0, maximum=2**32 - 2)  # the folds use seed + 1
    cv_folds = require_int("cv_folds", cv_folds, minimum=2, maximum=10)
    name = require_text("model", model) or next((n for n, d in DEFAULT_MODELS.items() if d == dataset), dataset)
    if not NAME_PATTERN.match(name):
        raise ValueError(f"model name {name!r}: use lower-case letters, digits and dashes (at most 64)")
    return dataset, algorithm, seed, cv_folds, name


def input_path(input_file: str) -> Path:
    """The input file's path; ValueError when it is not given or not a file."""
    text = require_text("input_file", input_file)
    if not text:
        raise ValueError("input_file is required: the path of a CSV, TSV or Parquet file of samples, one a row")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"input_file {text!r}: no such file")
    return path


def file_checksum(path: Path | str) -> str:
    return "sha256:" + sha256_file(Path(path))


def validated_input(path: Path, schema: FeatureSchema, label_column: str | None = LABEL_COLUMN):
    """engine.validation's result for the file; ValueError listing the errors when it is refused."""
    from engine.validation import validate

    checked = validate(path, schema, filename=path.name, label_column=label_column)
    if not checked.report.ok:
        raise ValueError(f"input_file {str(path)!r} is refused:\n"
                         + "\n".join(f"- {issue.message}" for issue in checked.report.errors))
    return checked


def describe_folders() -> str:
    return f"registry: {settings.models_dir()}; data: {settings.data_dir()}"


# ---------------------------------------------------------------------------------------------
# Progress inside a long cell


PROGRESS_PREFIX = "progress: "  # a line a cell prints to say where it is; a runner shows what follows


def training_progress(candidate: int, candidates: int, fold: int, folds: int) -> None:
    """engine.training.train's progress callback for a notebook: one line on stdout, flushed at once,
    `progress: candidate 2 of 4, fold 3 of 5`, readable in the report and read by a runner as it streams."""
    print(f"{PROGRESS_PREFIX}candidate {candidate} of {candidates}, fold {fold} of {folds}", flush=True)


def progress_detail(line: str) -> str | None:
    """What a progress line says (`candidate 2 of 4, fold 3 of 5`), or None for any other line."""
    line = line.strip()
    return line[len(PROGRESS_PREFIX):].strip() or None if line.startswith(PROGRESS_PREFIX) else None


# ---------------------------------------------------------------------------------------------
# Held-out split and metrics


def version_dataset(version: ModelVersion) -> datasets.Dataset:
    """The version's dataset from the verified cache; refused when its checksum is not the version's."""
    dataset = datasets.load(version.dataset_id)
    if dataset.checksum != version.dataset_checksum:
        raise ReproducibilityError(f"{version.ref} was trained on {version.dataset_id} with checksum "
                                   f"{version.dataset_checksum}; the cached data has {dataset.checksum}")
    missing = [n for n in version.schema.names if n not in dataset.X.columns]
    if missing:
        raise ReproducibilityError(f"{version.dataset_id} lacks {len(missing)} of {version.ref}'s features, "
                                   f"such as {missing[0]!r}")
    return dataset


@dataclass
class HeldOut:
    dataset: datasets.Dataset
    ids: list[str]
    X: np.ndarray  # the schema's columns, in order
    y: np.ndarray


def held_out(version: ModelVersion, seed: int) -> HeldOut:
    """The version's held-out samples, recomputed with the training code's split and `seed`.

    ValueError when `seed` is not the version's training seed; ReproducibilityError when the recomputed
    ids differ from the stored `split.test_ids` (the data or the split code changed)."""
    from engine.training import held_out_split

    trained_with = version.seed
    if seed != trained_with:
        raise ValueError(f"seed {seed} is not the seed {version.ref} was trained with ({trained_with}); the "
                         f"held-out split depends on it: run with seed={trained_with}")
    dataset = version_dataset(version)
    _, test = held_out_split(dataset, seed)
    ids = dataset.X.index.astype(str)[test].tolist()
    split = version.split
    stored = split.get("test_ids")
    if stored is not None and ids != [str(i) for i in stored]:
        differ = sorted(set(ids) ^ set(map(str, stored)))
        raise ReproducibilityError(
            f"the recomputed held-out split of {version.ref} ({len(ids)} samples) is not the stored one "
            f"({len(stored)} samples); " + (f"{len(differ)} ids differ, such as {differ[0]!r}" if differ
                                            else "same ids in another order"))
    if "n_test" in split and len(ids) != split["n_test"]:
        raise ReproducibilityError(f"{len(ids)} held-out samples recomputed, {version.ref} stored {split['n_test']}")
    X = dataset.X.iloc[test][version.schema.names].to_numpy(dtype=float)
    return HeldOut(dataset=dataset, ids=ids, X=X, y=dataset.y.iloc[test].astype(str).to_numpy())


def flatten(value, prefix: str = "") -> dict[str, object]:
    """Leaves of nested dicts and lists, keyed by their path ("per_class.BRCA.f1", "roc.BRCA.fpr[3]")."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _difference(a, b) -> float | None:
    """|a - b| for two numbers (0 for two equal non-numbers, None when they differ otherwise)."""
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) and math.isnan(b):
            return 0.0
        return abs(float(a) - float(b))
    return 0.0 if a == b else None


def compare_metrics(recomputed: dict, stored: dict, tolerance: float = METRIC_TOLERANCE) -> pd.DataFrame:
    """Every value of two metric dicts side by side (union of their paths): metric, stored, recomputed,
    abs_difference (NaN when one is missing or they differ in kind) and match (within `tolerance`)."""
    a, b = flatten(stored), flatten(recomputed)
    rows = []
    for path in list(a) + [p for p in b if p not in a]:
        s, r = a.get(path, "<missing>"), b.get(path, "<missing>")
        difference = _difference(s, r)
        rows.append({"metric": path, "stored": s, "recomputed": r,
                     "abs_difference": float("nan") if difference is None else difference,
                     "match": difference is not None and difference <= tolerance})
    return pd.DataFrame(rows, columns=["metric", "stored", "recomputed", "abs_difference", "match"])


def comparison_overview(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per top-level metric (accuracy, per_class, roc...): values compared, largest difference,
    whether all match."""
    top = comparison["metric"].str.extract(r"^([^.\[]+)")[0]
    grouped = comparison.groupby(top, sort=False)
    return pd.DataFrame({"values": grouped.size(), "max_abs_difference": grouped["abs_difference"].max(),
                         "all_match": grouped["match"].all()}).rename_axis("metric").reset_index()


def headline_metrics(metrics: dict) -> dict[str, float]:
    """The headline metrics (engine.headline) that apply, as a summary's `metrics` reports them: top-3
    accuracy needs more than three classes, accuracy on the covered samples needs one covered sample."""
    return {key: value for key, value in headline(metrics).items() if value is not None}


# ---------------------------------------------------------------------------------------------
# A cohort of predictions


CONFIDENCE_QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def class_counts(predicted: list[str], classes: list[str]) -> dict[str, int]:
    """Samples per class, every class of the model in its order (0 for a class never predicted)."""
    counts = pd.Series(predicted, dtype=object).value_counts()
    return {str(c): int(counts.get(c, 0)) for c in classes}


def cohort_tables(result) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """From an engine.predict.PredictionResult: per predicted class (samples, share, abstained, out of
    distribution, median confidence), the overall counts, and confidence quantiles."""
    frame = result.to_frame()
    n = len(frame)
    per_class = frame.groupby("predicted_class").agg(
        samples=("sample_id", "size"), abstained=("abstain", "sum"),
        out_of_distribution=("out_of_distribution", "sum"), median_confidence=("confidence", "median"))
    per_class = per_class.reindex([c for c in result.classes if c in per_class.index])
    per_class.insert(1, "share", per_class["samples"] / n if n else 0.0)
    per_class = per_class.astype({"abstained": int, "out_of_distribution": int}).sort_values(
        "samples", ascending=False, kind="mergesort")
    overview = pd.DataFrame({"count": [n, int(frame["abstain"].sum()), int(frame["out_of_distribution"].sum()),
                                       int((frame["abstain"] | frame["out_of_distribution"]).sum())]},
                            index=["samples", "abstained (confidence below the threshold)",
                                   "out of distribution", "abstained or out of distribution"])
    quantiles = frame["confidence"].quantile(list(CONFIDENCE_QUANTILES)).rename("confidence").to_frame()
    quantiles.index = [f"q{int(q * 100):02d}" if 0 < q < 1 else ("min" if q == 0 else "max")
                       for q in CONFIDENCE_QUANTILES]
    return per_class, overview, quantiles


def class_explanations(bundle, schema: FeatureSchema, X: np.ndarray, predicted: list[str], top_k: int,
                       max_per_class: int = MAX_EXPLAINED_PER_CLASS) -> pd.DataFrame:
    """Per predicted class, its top_k features by mean |SHAP value| of that class's output over the
    samples predicted as it (at most `max_per_class` of them, the first in file order): rank, feature,
    group, mean |SHAP|, mean SHAP (the usual direction of the push) and the features' mean input value."""
    from engine.explain import shap_values

    X = np.asarray(X, dtype=float)
    predicted = np.asarray(predicted, dtype=object)
    chosen = {c: np.flatnonzero(predicted == c)[:max_per_class] for c in bundle.classes}
    chosen = {c: rows for c, rows in chosen.items() if len(rows)}
    columns = ["predicted_class", "samples", "explained", "rank", "feature", "group", "mean_abs_shap",
               "mean_shap", "mean_value"]
    if not chosen:
        return pd.DataFrame(columns=columns)
    rows = np.concatenate(list(chosen.values()))
    values, _ = shap_values(bundle, X[rows])
    names, groups = schema.names, schema.groups
    out, start = [], 0
    for c, class_rows in chosen.items():
        k = bundle.classes.index(c)
        phi = values[start:start + len(class_rows), :, k]
        start += len(class_rows)
        mean_abs = np.abs(phi).mean(axis=0)
        with np.errstate(all="ignore"):
            mean_value = np.nanmean(X[class_rows], axis=0)
        samples = int((predicted == c).sum())
        for rank, j in enumerate(np.argsort(-mean_abs, kind="stable")[:top_k], start=1):
            out.append({"predicted_class": c, "samples": samples, "explained": len(class_rows),
                        "rank": rank, "feature": names[j], "group": groups[j],
                        "mean_abs_shap": float(mean_abs[j]), "mean_shap": float(phi[:, j].mean()),
                        "mean_value": float(mean_value[j])})
    return pd.DataFrame(out, columns=columns)


# ---------------------------------------------------------------------------------------------
# The summary line


def check_summary(summary: dict) -> dict:
    """The summary, checked: the required keys with their types, JSON-serialisable without NaN."""
    missing = [k for k in REQUIRED_SUMMARY_KEYS if k not in summary]
    if missing:
        raise ValueError(f"summary lacks {', '.join(missing)}")
    if not isinstance(summary["version"], int) or isinstance(summary["version"], bool):
        raise ValueError(f"summary version must be an int, got {summary['version']!r}")
    for key in ("model", "sha256", "data_checksum"):
        if not isinstance(summary[key], str) or not summary[key]:
            raise ValueError(f"summary {key} must be a non-empty text, got {summary[key]!r}")
    json.dumps(summary, allow_nan=False)  # raises on NaN or values JSON cannot hold
    return summary


def read_summary(notebook) -> dict:
    """The summary of an executed notebook (a path or an nbformat NotebookNode): the one line printed by
    its cell tagged `summary`, parsed. ValueError when the cell is missing or did not print one line."""
    import nbformat

    if not hasattr(notebook, "cells"):
        notebook = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in notebook.cells if SUMMARY_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"the notebook has {len(cells)} cells tagged {SUMMARY_TAG!r}, expected one")
    text = "".join(o.get("text", "") for o in cells[0].get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    lines = text.splitlines()
    if len(lines) != 1:
        raise ValueError(f"the summary cell printed {len(lines)} lines, expected one (did the notebook finish?)")
    return check_summary(json.loads(lines[0]))
