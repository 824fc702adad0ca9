"""What the figure tests draw from: each default model's real held-out samples, predicted, and one
sample's explanation with the values of the training samples of its class."""
from __future__ import annotations

from engine import explain, projection
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
