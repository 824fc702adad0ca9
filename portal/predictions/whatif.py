"""What-if: one stored sample of a finished run with up to MAX_CHANGES feature values changed, predicted
and explained again beside the original; nothing is stored.

The sample's values are read again from the stored, validated upload; only the changed values come from
the caller, and they are checked as an upload's are (engine.validation on the changed row: a number, 0 or
1 for a binary feature), and more strictly: a changed value must lie within the training range (an
upload's value outside it is a warning; a what-if is a question about the model where it was trained).
A refusal is a RunError with a 4xx status and a message naming the feature. Audited as
`explanation.whatif` with the names of the features changed, never their values."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.explain import explain
from engine.feature_labels import feature_label
from engine.predict import predict
from engine.registry import LoadedModel
from engine.schema import BINARY, Feature
from engine.validation import validate_frame
from portal.accounts import audit
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunStatus
from portal.predictions import runs
from portal.predictions.explanations import TOP

MAX_CHANGES = 10
SOURCE = "the what-if values"  # how validation messages name what they checked


@dataclass(frozen=True)
class Outcome:
    """One version of the sample (as stored, or changed): its prediction and the explanation of a class."""

    probabilities: list[float]  # in the model's class order
    predicted: str
    confidence: float
    abstain: bool
    out_of_distribution: bool
    explanation: dict  # engine.explain.Explanation.to_dict(), for the explained class


@dataclass(frozen=True)
class WhatIf:
    classes: list[str]
    class_name: str  # the class both explanations are of
    changes: dict[str, float]  # feature -> its new value (in the schema's order)
    original: Outcome
    changed: Outcome


def _refuse(message: str, status: int = 400) -> runs.RunError:
    return runs.RunError(message, status)


def _named(feature: Feature) -> str:
    return feature_label(feature.name, feature.group).display


def _range(feature: Feature) -> str:
    return f"[{feature.minimum:g}, {feature.maximum:g}]"


def _given(feature: Feature, value):
    """A value as the browser sent it, before validation: a switch's True/False is 1/0 for a binary feature;
    numbers and number texts go on to validation; anything else is refused here."""
    if isinstance(value, bool):
        if feature.kind == BINARY:
            return int(value)
        raise _refuse(f"{_named(feature)} is continuous: give a number within its training range "
                      f"{_range(feature)}, not {value}.")
    if isinstance(value, (int, float, str)):
        return value
    raise _refuse(f"{_named(feature)}: give a number"
                  + (" (0 or 1)" if feature.kind == BINARY else f" within its training range {_range(feature)}")
                  + f", not {type(value).__name__ if value is not None else 'nothing'}.")


def check_changes(model: LoadedModel, sample_id: str, changes) -> dict[str, float]:
    """The changes as numbers by feature, in the schema's order; RunError 400 naming what is wrong."""
    if not isinstance(changes, dict) or not changes:
        raise _refuse("choose at least one feature to change")
    if len(changes) > MAX_CHANGES:
        raise _refuse(f"at most {MAX_CHANGES} features may be changed at once, not {len(changes)}")
    schema = model.schema
    features = {f.name: f for f in schema.features}
    unknown = [str(name)[:80] for name in changes if not isinstance(name, str) or name not in features]
    if unknown:
        raise _refuse(f"{unknown[0]!r} is not a feature of {model.version.ref}")
    chosen = [f for f in schema.features if f.name in changes]
    row = {schema.id_column: [sample_id]} | {
        f.name: pd.Series([_given(f, changes[f.name])], dtype=object) for f in chosen}
    checked = validate_frame(pd.DataFrame(row), dataclasses.replace(schema, features=tuple(chosen)), name=SOURCE)
    if checked.report.errors:
        raise _refuse(" ".join(issue.message for issue in checked.report.errors))
    values = {f.name: float(v) for f, v in zip(chosen, checked.X[0])}
    for f in chosen:
        v = values[f.name]
        if math.isnan(v):
            raise _refuse(f"{_named(f)}: give a number, not an empty value.")
        if (f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum):
            raise _refuse(f"{_named(f)}: {v:g} is outside its training range {_range(f)}; a what-if value "
                          "must lie within it.")
    return values


def _outcome(model: LoadedModel, X: np.ndarray, sample_id: str, out_of_range: int, class_name: str) -> Outcome:
    result = predict(model, X, [sample_id], np.array([out_of_range]))
    (explanation,) = explain(model.bundle, model.schema, X, [sample_id], class_name=class_name, top_k=TOP)
    return Outcome(probabilities=[float(p) for p in result.probabilities[0]], predicted=result.predicted[0],
                   confidence=float(result.confidence[0]), abstain=bool(result.abstain[0]),
                   out_of_distribution=bool(result.out_of_distribution[0]), explanation=explanation.to_dict())


def what_if(portal: Portal, run: PredictionRun, sample_id: str, changes, class_name) -> WhatIf:
    """The sample of `run` (one the caller may read: the page checked) as stored and with `changes` (feature
    -> value), both predicted and explained for `class_name`. Nothing is stored; one audit entry."""
    if run.status != RunStatus.DONE:
        raise _refuse(f"run {run.id} is {run.status}", 409)
    model = runs.run_model(portal, run)
    if not isinstance(class_name, str) or class_name not in model.bundle.classes:
        raise _refuse(f"{model.version.ref} has no class {str(class_name)[:80]!r}")
    X, out_of_range = runs.sample_input(portal, run, sample_id, model.schema.names)
    values = check_changes(model, sample_id, changes)
    names = model.schema.names
    lo, hi = model.schema.bounds()
    changed = X.copy()
    outside_before = 0
    for name, value in values.items():
        j = names.index(name)
        outside_before += bool(X[0, j] < lo[j] or X[0, j] > hi[j])  # NaN (missing) compares False
        changed[0, j] = value
    audit.record("explanation.whatif", target=f"{run.id}/{sample_id}",
                 details={"model": model.version.ref, "features": list(values), "changes": len(values),
                          "class": class_name})
    return WhatIf(classes=list(model.bundle.classes), class_name=class_name, changes=values,
                  original=_outcome(model, X, sample_id, out_of_range, class_name),
                  changed=_outcome(model, changed, sample_id, out_of_range - outside_before, class_name))


@dataclass(frozen=True)
class ChangeableFeature:
    """What the what-if form shows for a feature: its labels, kind, training range and the sample's value."""

    name: str
    display: str  # readable label with the raw id
    kind: str
    minimum: float | None
    maximum: float | None
    value: float | None  # the stored sample's (None: missing, imputed)


def changeable(portal: Portal, run: PredictionRun, sample_id: str, names) -> list[ChangeableFeature]:
    """The form's rows for the features `names` of the run's model (RunError 400 for what is not one)."""
    if run.status != RunStatus.DONE:
        raise _refuse(f"run {run.id} is {run.status}", 409)
    model = runs.run_model(portal, run)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _refuse("the features to change must be a list of feature names")
    features = {f.name: (j, f) for j, f in enumerate(model.schema.features)}
    unknown = [n[:80] for n in names if n not in features]
    if unknown:
        raise _refuse(f"{unknown[0]!r} is not a feature of {model.version.ref}")
    X, _ = runs.sample_input(portal, run, sample_id, model.schema.names)
    rows = []
    for name in dict.fromkeys(names):  # once each, in the order chosen
        j, f = features[name]
        rows.append(ChangeableFeature(name=name, display=_named(f), kind=f.kind, minimum=f.minimum,
                                      maximum=f.maximum, value=None if np.isnan(X[0, j]) else float(X[0, j])))
    return rows


def feature_options(model: LoadedModel) -> list[dict]:
    """Every feature of the model as a dropdown option (readable label, raw id as the value)."""
    return [{"label": _named(f), "value": f.name} for f in model.schema.features]
