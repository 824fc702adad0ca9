"""The figures of a finished run's results page, drawn in one place: when the run finishes (so its first
view is fast) and whenever the stored ones were drawn by older code. `FORMAT` names this drawing: change
it whenever what these figures show changes, and stored figures are drawn again
(portal.predictions.figure_store)."""
from __future__ import annotations

from components import prediction_figures as pf

FORMAT = 2  # 2: many samples drawn as a density, no WebGL traces


def draw(inputs) -> dict[str, dict]:
    """Plotly figure dicts by name from a run's figure inputs (portal.predictions.figure_store.FigureInputs:
    its results, the model's classes and thresholds, the 2-D map of training and uploaded samples)."""
    frame = inputs.results
    ids, predicted = frame["sample_id"].astype(str).tolist(), frame["predicted_class"].tolist()
    confidence = frame["confidence"].tolist()
    drawn = {
        "class_counts": pf.predicted_class_counts_figure(predicted, frame["abstain"].tolist(), inputs.classes),
        "confidence": pf.confidence_histogram_figure(confidence, inputs.abstain_threshold),
        "confidence_ood": pf.confidence_ood_figure(ids, predicted, confidence, frame["ood_score"].tolist(),
                                                   inputs.ood_threshold, inputs.abstain_threshold),
        "projection": pf.projection_figure(inputs.training_coordinates, inputs.training_labels,
                                           inputs.upload_coordinates, ids, predicted,
                                           inputs.explained_variance_ratio),
    }
    agreement = inputs.summary.get("labels")
    if agreement:
        drawn["label_confusion"] = pf.label_confusion_figure(agreement)
    return {name: figure.to_plotly_json() for name, figure in drawn.items()}
