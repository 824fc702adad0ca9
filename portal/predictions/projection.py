"""A finished run's samples on the 2-D map of its model version's training samples (engine.projection).
The map is fitted once per version and kept by the portal (keyed by the version's folder and artifact
sha256, so an entry never goes stale); the run's samples are placed on it each time."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.projection import projection_for
from engine.registry import LoadedModel
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.predictions import runs


@dataclass(frozen=True)
class RunProjection:
    training_coordinates: np.ndarray  # (training samples, 2)
    training_labels: np.ndarray
    explained_variance_ratio: list[float]
    upload_coordinates: np.ndarray  # (the run's samples, 2), in the upload's order


def run_projection(portal: Portal, run: PredictionRun, model: LoadedModel) -> RunProjection:
    """The map of `model` (the run's own, runs.run_model) with the run's uploaded samples placed on it."""
    projection = projection_for(model, portal.caches.projections)
    X, _ = runs.upload_matrix(portal, run, model.schema.names)
    return RunProjection(training_coordinates=projection.training_coordinates,
                         training_labels=projection.training_labels,
                         explained_variance_ratio=projection.explained_variance_ratio,
                         upload_coordinates=projection.transform(X))
