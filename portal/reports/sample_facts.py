"""Everything a report says of one sample, gathered once: the model version and its artifact, the
prediction with its calibrated probabilities and verdicts, the explanation of the predicted class, and the
version's held-out figures for that class. Made from a finished run the caller may read (`from_run`) or
from a validated file (`from_input`, the command line); the PDF and FHIR builders read only this."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from engine.explain import Explanation, explain
from engine.metrics import accuracy_at_confidence
from engine.predict import predict
from engine.registry import LoadedModel, ModelVersion
from portal.core.context import Portal
from portal.core.states import RunAccess, RunStatus
from portal.predictions import explanations, pseudonyms, runs

TOP = explanations.TOP  # contributions a report lists, as the explain page's waterfall


@dataclass(frozen=True)
class ClassFigures:
    """The version's held-out figures for one class, and the held-out accuracy at a confidence this high."""

    recall: float
    precision: float
    support: int
    accuracy_at_confidence: float | None  # None: no held-out sample was this confident
    coverage_at_confidence: float | None  # the share of held-out samples at least this confident


@dataclass(frozen=True)
class SampleFacts:
    sample_id: str
    version: ModelVersion
    classes: list[str]
    probabilities: list[float]  # calibrated, in `classes` order
    predicted: str
    confidence: float
    abstain: bool
    out_of_distribution: bool
    far_from_training: bool
    outside_range: bool
    out_of_range: int
    n_features: int
    explanation: Explanation  # of the predicted class
    class_figures: ClassFigures
    true_label: str | None
    run_id: str | None  # None for a file read on the command line
    pseudonymous_id: bool  # the upload declared its sample ids pseudonyms (they may travel as FHIR subject)
    author: str  # who generated the report: a user's e-mail, or "command line"
    generated_at: datetime


def class_figures(version: ModelVersion, class_name: str, confidence: float) -> ClassFigures:
    m = version.metrics
    per_class = m["per_class"][class_name]
    accuracy, coverage = accuracy_at_confidence(m["accuracy_coverage"], confidence)
    return ClassFigures(recall=float(per_class["recall"]), precision=float(per_class["precision"]),
                        support=int(per_class["support"]), accuracy_at_confidence=accuracy,
                        coverage_at_confidence=coverage)


def from_input(model: LoadedModel, X: np.ndarray, sample_id: str, out_of_range: int, *, author: str,
               true_label: str | None = None, run_id: str | None = None, pseudonymous_id: bool = False,
               now: datetime | None = None) -> SampleFacts:
    """The facts of one validated sample (`X`: one row in the schema's order)."""
    result = predict(model, X, [sample_id], np.array([out_of_range]))
    predicted = result.predicted[0]
    confidence = float(result.confidence[0])
    (explained,) = explain(model.bundle, model.schema, X, [sample_id], class_name=predicted, top_k=TOP)
    return SampleFacts(
        sample_id=sample_id, version=model.version, classes=list(result.classes),
        probabilities=[float(p) for p in result.probabilities[0]], predicted=predicted, confidence=confidence,
        abstain=bool(result.abstain[0]), out_of_distribution=bool(result.out_of_distribution[0]),
        far_from_training=bool(result.far_from_training[0]), outside_range=bool(result.outside_range[0]),
        out_of_range=int(out_of_range), n_features=len(model.schema.names), explanation=explained,
        class_figures=class_figures(model.version, predicted, confidence), true_label=true_label, run_id=run_id,
        pseudonymous_id=pseudonymous_id, author=author, generated_at=now or datetime.now(timezone.utc))


def from_run(portal: Portal, run_id: str, sample_id: str, user_id: int, role: str, author: str,
             pseudonymous_id: bool | None = None) -> SampleFacts:
    """The facts of one sample of a finished run the user may read (runs.RunError: 403/404/409/410).
    `pseudonymous_id`: None (the default) reads the declaration stored with the run's upload."""
    run = runs.get_run(portal, run_id, user_id, role, RunAccess.READ)
    if run.status != RunStatus.DONE:
        raise runs.RunError(f"run {run.id} is {run.status}", 409)
    model = runs.run_model(portal, run)
    X, out_of_range = runs.sample_input(portal, run, sample_id, model.schema.names)
    if pseudonymous_id is None:
        pseudonymous_id = pseudonyms.of_upload(portal, run.upload_id)
    return from_input(model, X, sample_id, out_of_range, author=author, run_id=run.id,
                      true_label=runs.sample_label(portal, run, sample_id), pseudonymous_id=pseudonymous_id)
