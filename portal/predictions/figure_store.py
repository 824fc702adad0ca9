"""A finished run's figures, drawn once and stored with its results (encrypted, `runs/<id>/figures.json`):
opening a run of 20,000 samples then reads one stored file instead of projecting the samples and
building every figure again. The pages draw the figures (components.run_figures); this module gathers
what they are drawn from, and keeps them. A stored file records the drawing code's format, so figures
drawn by older code are drawn again, never shown stale."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunStatus
from portal.core.storage import StorageError
from portal.predictions import projection, runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FigureInputs:
    """Everything a run's figures are drawn from."""

    results: pd.DataFrame  # runs.results: one row per sample
    classes: list[str]
    abstain_threshold: float
    ood_threshold: float
    summary: dict  # the run's stored summary (agreement with the file's labels, when it had them)
    training_coordinates: np.ndarray  # the model's 2-D map of its training samples
    training_labels: np.ndarray
    explained_variance_ratio: list[float]
    upload_coordinates: np.ndarray  # the run's samples on that map, in the upload's order


def stored_name(run_id: str) -> str:
    """Where a run's figures are stored (portal.core.storage)."""
    return f"runs/{run_id}/figures.json"


def inputs(portal: Portal, run: PredictionRun) -> FigureInputs:
    model = runs.run_model(portal, run)
    mapped = projection.run_projection(portal, run, model)
    return FigureInputs(results=runs.results(portal, run), classes=list(model.bundle.classes),
                        abstain_threshold=float(model.version.abstain_threshold),
                        ood_threshold=float(model.bundle.ood.threshold_), summary=run.summary or {},
                        training_coordinates=mapped.training_coordinates, training_labels=mapped.training_labels,
                        explained_variance_ratio=mapped.explained_variance_ratio,
                        upload_coordinates=mapped.upload_coordinates)


def figures(portal: Portal, run: PredictionRun, drawing_format: int,
            draw: Callable[[FigureInputs], dict[str, dict]]) -> dict[str, dict]:
    """The run's figures by name (plotly figure dicts): the stored ones when `drawing_format` drew them,
    else drawn now by `draw` and stored. The caller has checked that the user may read the run."""
    stored = _load(portal, run.id, drawing_format)
    if stored is not None:
        return stored
    drawn = draw(inputs(portal, run))
    payload = json.dumps({"format": drawing_format, "figures": drawn}, separators=(",", ":"),
                         cls=_NumpyEncoder).encode()
    portal.storage.put(stored_name(run.id), payload)
    return json.loads(payload)["figures"]  # exactly what a later load returns


def predict_and_draw(drawing_format: int, draw: Callable[[FigureInputs], dict[str, dict]]) -> Callable[..., str]:
    """A prediction run's background job (runs.execute_run), which then draws and stores the run's
    figures while the user still watches the progress bar, so that the run's page opens at once."""
    def execute(portal: Portal, run_id: str, progress: Callable[[int, int], None] | None = None) -> str:
        status = runs.execute_run(portal, run_id, progress)
        if status == RunStatus.DONE:
            with portal.db.session() as session:
                run = session.get(PredictionRun, run_id)
            figures(portal, run, drawing_format, draw)
        return status
    return execute


def _load(portal: Portal, run_id: str, drawing_format: int) -> dict | None:
    try:
        stored = json.loads(portal.storage.get(stored_name(run_id)))
    except StorageError:  # not drawn yet (or by a run that finished before figures were stored)
        return None
    except ValueError:  # a damaged file is drawn again, not shown
        log.warning("stored figures of run %s are not valid JSON; drawing them again", run_id)
        return None
    return stored["figures"] if stored.get("format") == drawing_format else None


class _NumpyEncoder(json.JSONEncoder):
    """Plotly's figure dicts hold numpy arrays and scalars."""

    def default(self, value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return super().default(value)
