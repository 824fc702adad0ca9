"""One sample of a finished run beside its most similar training samples (engine.neighbours): the k nearest
in the out-of-distribution score's space (k: the CANCER_ALPHA_NEIGHBOURS setting), and where they and the
sample lie on the version's 2-D map (engine.projection). The reference samples and the map are built once
per version and kept in the portal's caches (keyed by the version's folder and artifact sha256)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.neighbours import Neighbours, reference_samples_for
from engine.ood import NEIGHBOURS as OOD_NEIGHBOURS
from engine.predict import predict
from engine.projection import projection_for
from engine.registry import ModelVersion
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunStatus
from portal.predictions import runs


@dataclass(frozen=True)
class SampleNeighbours:
    sample_id: str
    version: ModelVersion
    neighbours: Neighbours
    ood_score: float  # the mean distance to the first OOD_NEIGHBOURS of them
    ood_threshold: float
    ood_neighbours: int
    training_coordinates: np.ndarray  # (training samples, 2): the map
    training_labels: np.ndarray
    explained_variance_ratio: list[float]
    sample_coordinates: np.ndarray  # (1, 2)
    neighbour_coordinates: np.ndarray  # (k, 2), nearest first


def sample_neighbours(portal: Portal, run: PredictionRun, sample_id: str, k: int | None = None) -> SampleNeighbours:
    """The nearest training samples of one sample of `run` (a run the caller may read: the page checked)."""
    if run.status != RunStatus.DONE:
        raise runs.RunError(f"run {run.id} is {run.status}", 409)
    model = runs.run_model(portal, run)
    X, out_of_range = runs.sample_input(portal, run, sample_id, model.schema.names)
    predicted = predict(model, X, [sample_id], np.array([out_of_range]))
    found = reference_samples_for(model, portal.caches.reference_samples).nearest(
        X[0], k or portal.settings.neighbours, predicted.predicted[0])
    projection = projection_for(model, portal.caches.projections)
    row_of = {sample: row for row, sample in enumerate(projection.training_ids)}
    rows = [row_of[n.id] for n in found.neighbours]
    return SampleNeighbours(
        sample_id=sample_id, version=model.version, neighbours=found, ood_score=float(predicted.ood_score[0]),
        ood_threshold=float(model.bundle.ood.threshold_), ood_neighbours=OOD_NEIGHBOURS,
        training_coordinates=projection.training_coordinates, training_labels=projection.training_labels,
        explained_variance_ratio=projection.explained_variance_ratio,
        sample_coordinates=projection.transform(X), neighbour_coordinates=projection.training_coordinates[rows])
