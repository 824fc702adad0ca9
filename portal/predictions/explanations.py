"""One sample of a finished prediction run, explained: its prediction again from the stored, validated
values; the SHAP contributions for a class; and, for the top features, the sample's value beside the
training values of that class. The explain page renders the plain dataclasses these return."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.explain import explain
from engine.predict import predict
from engine.projection import training_samples
from engine.registry import LoadedModel, ModelVersion
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunAccess, RunStatus
from portal.predictions import runs

TOP = 20  # contributions in the waterfall
CONTEXT_FEATURES = 9  # top features drawn beside the training values of the class


@dataclass(frozen=True)
class SamplePrediction:
    run: PredictionRun
    sample_id: str
    version: ModelVersion
    classes: list[str]
    probabilities: list[float]  # in `classes` order
    predicted: str
    confidence: float
    abstain: bool
    out_of_distribution: bool
    ood_score: float
    ood_threshold: float
    out_of_range: int  # the sample's values outside the training range
    true_label: str | None  # the class the upload gave the sample (its true_label column), if any
    far_from_training: bool  # the out-of-distribution rule that fired: distance above the threshold
    outside_range: bool  # ... or too many values outside the training range
    n_features: int


@dataclass(frozen=True)
class SampleExplanation:
    class_name: str
    contributions: dict  # engine.explain.Explanation.to_dict(): the waterfall's and the groups' data
    feature_context: list[dict]  # per top feature: its value and the training values of the class


def _model_and_sample(portal: Portal, run: PredictionRun, sample_id: str) -> tuple[LoadedModel, np.ndarray, int]:
    model = runs.run_model(portal, run)
    X, out_of_range = runs.sample_input(portal, run, sample_id, model.schema.names)
    return model, X, out_of_range


def predict_sample(portal: Portal, run_id: str, sample_id: str, user_id: int, role: str) -> SamplePrediction:
    """The prediction of one sample of a finished run the user may see (RunError otherwise)."""
    run = runs.get_run(portal, run_id, user_id, role, RunAccess.READ)  # a shared run is read too
    if run.status != RunStatus.DONE:
        raise runs.RunError(f"run {run.id} is {run.status}", 409)
    model, X, out_of_range = _model_and_sample(portal, run, sample_id)
    result = predict(model, X, [sample_id], np.array([out_of_range]))
    return SamplePrediction(
        run=run, sample_id=sample_id, version=model.version, classes=list(model.bundle.classes),
        probabilities=[float(p) for p in result.probabilities[0]], predicted=result.predicted[0],
        confidence=float(result.confidence[0]), abstain=bool(result.abstain[0]),
        out_of_distribution=bool(result.out_of_distribution[0]), ood_score=float(result.ood_score[0]),
        ood_threshold=float(model.bundle.ood.threshold_), out_of_range=out_of_range,
        true_label=runs.sample_label(portal, run, sample_id),
        far_from_training=bool(result.far_from_training[0]), outside_range=bool(result.outside_range[0]),
        n_features=len(model.schema.names))


def explain_sample(portal: Portal, run: PredictionRun, sample_id: str, class_name: str) -> SampleExplanation:
    """SHAP contributions of one sample of `run` (one the caller may see) for `class_name`."""
    model, X, _ = _model_and_sample(portal, run, sample_id)
    if class_name not in model.bundle.classes:  # the page offers only the model's classes; a forged request
        raise runs.RunError(f"{model.version.ref} has no class {class_name!r}", 400)
    (explanation,) = explain(model.bundle, model.schema, X, [sample_id], class_name=class_name, top_k=TOP)
    return SampleExplanation(class_name=explanation.class_name, contributions=explanation.to_dict(),
                             feature_context=_feature_context(portal, model, explanation, X))


def _training(portal: Portal, model: LoadedModel) -> tuple[np.ndarray, np.ndarray]:
    """Training values and labels of a version, read once per portal (a version never changes)."""
    version = model.version

    def read():
        X, labels, _ = training_samples(model)
        return X, np.asarray(labels)

    return portal.caches.training_samples.get_or_create((str(version.path), version.sha256), read)


def _feature_context(portal: Portal, model: LoadedModel, explanation, X: np.ndarray) -> list[dict]:
    train_X, labels = _training(portal, model)
    in_class = train_X[labels == explanation.class_name]
    kinds = {f.name: f.kind for f in model.schema.features}
    items = []
    for contribution in explanation.top[:CONTEXT_FEATURES]:
        j = model.schema.names.index(contribution.feature)
        items.append({"feature": contribution.feature, "group": contribution.group, "kind": kinds[contribution.feature],
                      "value": None if np.isnan(X[0, j]) else float(X[0, j]),
                      "training_values": in_class[:, j].tolist()})
    return items
