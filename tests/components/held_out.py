"""What the figure tests draw from: each default model's real held-out samples, predicted, and one
sample's explanation with the values of the training samples of its class."""
from __future__ import annotations

from components import figures
from components import prediction_figures as pf
from engine import explain, metrics, projection
from engine.predict import predict

MODELS = ("tissue-of-origin", "tcga-mirna-type")


class Batch:
    """A model's real held-out samples, their predictions and true labels."""

    def __init__(self, model, dataset):
        self.model = model
        self.ids = list(model.version.metadata["split"]["test_ids"])
        self.X = dataset.X.loc[self.ids, model.schema.names].to_numpy(float)
        self.truth = dataset.y.loc[self.ids].astype(str).tolist()
        self.result = predict(model, self.X, self.ids)


def explanation_of(batch, row: int = 0, top_k: int = 20, X=None) -> dict:
    X = batch.X if X is None else X
    (e,) = explain.explain(batch.model.bundle, batch.model.schema, X[row:row + 1], batch.ids[row:row + 1],
                           top_k=top_k)
    return e.to_dict()


def context_items(batch, e: dict) -> list[dict]:
    """The explained features with the values of the training samples of the explained class."""
    X, labels, _ = projection.training_samples(batch.model)
    of_class = X[labels == e["class"]]
    kinds = {f.name: f.kind for f in batch.model.schema.features}
    names = batch.model.schema.names
    return [{"feature": c["feature"], "group": c["group"], "kind": kinds[c["feature"]], "value": c["value"],
             "training_values": of_class[:, names.index(c["feature"])].tolist()} for c in e["top"]]


def projection_of(batch):
    proj = projection.projection_for(batch.model)
    return pf.projection_figure(proj.training_coordinates, list(proj.training_labels), proj.transform(batch.X),
                                batch.ids, batch.result.predicted, proj.explained_variance_ratio)


def every_figure(name: str, batch: Batch) -> dict:
    """Every figure of components.figures and components.prediction_figures for one real model."""
    metadata = batch.model.version.metadata
    m, r = metadata["metrics"], batch.result
    e = explanation_of(batch, top_k=9)
    return {
        "confusion": figures.confusion_matrix_figure(m["confusion_matrix"]),
        "roc": figures.roc_curves_figure(m["roc"]),
        "pr": figures.precision_recall_figure(m["precision_recall"]),
        "calibration": figures.calibration_figure(m["calibration"]),
        "coverage": figures.accuracy_coverage_figure(m["accuracy_coverage"], m["selective"]),
        "features": figures.feature_importance_figure(metadata["global_importance"]),
        "groups": figures.group_importance_figure(metadata["global_importance"]),
        "counts": pf.predicted_class_counts_figure(r.predicted, list(r.abstain), r.classes),
        "histogram": pf.confidence_histogram_figure(list(r.confidence), metadata["abstain"]["threshold"]),
        "ood": pf.confidence_ood_figure(r.ids, r.predicted, list(r.confidence), list(r.ood_score),
                                        metadata["out_of_distribution"]["threshold"], metadata["abstain"]["threshold"]),
        "projection": projection_of(batch),
        "waterfall": pf.shap_waterfall_figure(e),
        "group contributions": pf.group_contributions_figure(e["group_sums"], e["class"]),
        "context": pf.feature_context_figure(context_items(batch, e), e["class"]),
        "label confusion": pf.label_confusion_figure(metrics.label_agreement(list(r.predicted), r.predicted, r.classes)),
    }
