"""The training samples most similar to a sample: its k nearest in the space of the model's
out-of-distribution score (engine.ood: the model's own preprocessing, standardised, then a PCA), each
with its known class, its distance, and the features in which it differs most from the sample.

The distance is the one the out-of-distribution score averages (its first NEIGHBOURS neighbours here are
the ones that score uses), so "far from the training samples" and "these are its nearest" are one
measure. The features that differ are read in the standardised space before the PCA (a difference of 1
is one training standard deviation of that feature), with the raw values of both samples beside it.

Deterministic: distances are computed directly (no expanded-square arithmetic whose rounding depends on
the order of the rows) and rounded before sorting, and a tie goes to the smaller training sample id.
The training samples come from the version's stored data as the projection reads them
(engine.projection.training_samples); `reference_samples_for` keeps them in a cache its owner passes
(the portal's caches), never in a module global.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the settings read DEFAULT_K and MAX_K: this module imports no scikit-learn at load
    from engine.registry import LoadedModel

DEFAULT_K = 10
MAX_K = 100  # a page or a report shows a table of them; more is no longer "the most similar"
DIFFERING = 3  # features shown per neighbour
DISTANCE_DECIMALS = 9  # distances equal to this many decimals are a tie, broken by id


@dataclass(frozen=True)
class FeatureDifference:
    """One feature in which a neighbour differs from the sample: `difference` is the neighbour's minus
    the sample's value in standard units; the raw values are as stored (None: missing, imputed)."""

    feature: str
    group: str
    difference: float
    sample_value: float | None
    neighbour_value: float | None

    def to_dict(self) -> dict:
        return {"feature": self.feature, "group": self.group, "difference": self.difference,
                "sample_value": self.sample_value, "neighbour_value": self.neighbour_value}


@dataclass(frozen=True)
class Neighbour:
    id: str
    label: str  # its known class
    distance: float  # in the out-of-distribution score's space
    differences: tuple[FeatureDifference, ...]  # largest |difference| first

    def to_dict(self) -> dict:
        return {"id": self.id, "class": self.label, "distance": self.distance,
                "differences": [d.to_dict() for d in self.differences]}


@dataclass(frozen=True)
class Neighbours:
    """The k nearest training samples of one sample, nearest first, and the class it was predicted."""

    predicted: str
    neighbours: tuple[Neighbour, ...]

    @property
    def k(self) -> int:
        return len(self.neighbours)

    @property
    def sharing_predicted(self) -> int:
        """How many of the k have the sample's predicted class."""
        return sum(n.label == self.predicted for n in self.neighbours)

    def share_of(self, label: str) -> float:
        """The fraction of the k whose known class is `label`."""
        return sum(n.label == label for n in self.neighbours) / self.k if self.k else 0.0

    def to_dict(self) -> dict:
        return {"k": self.k, "predicted": self.predicted, "sharing_predicted": self.sharing_predicted,
                "neighbours": [n.to_dict() for n in self.neighbours]}


def check_k(k) -> int:
    """k as a whole number from 1 to MAX_K (ValueError naming it otherwise)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_K:
        raise ValueError(f"the number of neighbours must be a whole number from 1 to {MAX_K}, not {k!r}")
    return int(k)


class ReferenceSamples:
    """A version's training samples placed in its out-of-distribution space, ready to be searched."""

    def __init__(self, model: LoadedModel):
        from engine.projection import training_samples  # reads the datasets: imported when used

        X, labels, ids = training_samples(model)
        self._detector = model.bundle.ood
        self._schema = model.schema
        self._bundle = model.bundle
        self.X = X  # raw values, the schema's columns in order
        self.labels = np.asarray(labels).astype(str)
        self.ids = np.asarray(ids).astype(str)
        self.points = self._detector.embed(X)

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, x: np.ndarray, k: int = DEFAULT_K, predicted: str | None = None,
                differing: int = DIFFERING) -> Neighbours:
        """The k training samples nearest to the one sample `x` (raw values in the schema's order, NaN where
        missing). `predicted`: its predicted class (computed from the model when not given)."""
        k = min(check_k(k), len(self))
        x = np.asarray(x, dtype=float).reshape(1, -1)
        if x.shape[1] != self.X.shape[1]:
            raise ValueError(f"expected {self.X.shape[1]} features, got {x.shape[1]}")
        if predicted is None:
            predicted = self._bundle.classes[int(np.argmax(self._bundle.predict_proba(x)[0]))]
        distances = np.sqrt(((self.points - self._detector.embed(x)[0]) ** 2).sum(axis=1))
        order = np.lexsort((self.ids, np.round(distances, DISTANCE_DECIMALS)))[:k]
        standard = self._detector.standardised(np.vstack([x, self.X[order]]))
        names, groups = self._schema.names, self._schema.groups
        found = []
        for position, row in enumerate(order, start=1):
            difference = standard[position] - standard[0]
            largest = np.argsort(-np.abs(difference), kind="stable")[:differing]
            found.append(Neighbour(
                id=str(self.ids[row]), label=str(self.labels[row]), distance=float(distances[row]),
                differences=tuple(FeatureDifference(
                    feature=names[j], group=groups[j], difference=float(difference[j]),
                    sample_value=_value(x[0, j]), neighbour_value=_value(self.X[row, j])) for j in largest)))
        return Neighbours(predicted=str(predicted), neighbours=tuple(found))


def _value(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def reference_samples_for(model: LoadedModel, cache=None) -> ReferenceSamples:
    """The version's reference samples: read now, or once per version in `cache` (an
    engine.caching.BoundedCache its owner keeps), keyed by the version's folder and artifact sha256."""
    if cache is None:
        return ReferenceSamples(model)
    key = (str(model.version.path), model.version.sha256)
    return cache.get_or_create(key, lambda: ReferenceSamples(model))


def nearest_training_samples(model: LoadedModel, x: np.ndarray, k: int = DEFAULT_K, predicted: str | None = None,
                             cache=None) -> Neighbours:
    """The k training samples of `model`'s version nearest to one sample (see ReferenceSamples.nearest)."""
    return reference_samples_for(model, cache).nearest(x, k, predicted)
