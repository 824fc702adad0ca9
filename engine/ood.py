"""Out-of-distribution score: how far a sample lies from the training samples.

The score is the mean Euclidean distance to the k nearest training samples in a standardised PCA
space of the model's own preprocessing. The threshold is a high quantile of the same score for the
training samples themselves (each scored against the others), so about 1% of training-like samples are
flagged. Values outside the training range also flag a sample (see `flag`).
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline

from engine.preprocessing import preprocessing_steps, transform_step

NEIGHBOURS = 5
QUANTILE = 0.99
MAX_COMPONENTS = 20
# A sample with more than this share of its features outside the training range is flagged too.
OUT_OF_RANGE_SHARE = 0.01
BLOCK = 2048  # samples scored at once: bounded memory for large uploads


class OutOfDistributionDetector:
    def __init__(self, preprocessing_kind: str, seed: int):
        self.preprocessing_kind = preprocessing_kind
        self.seed = seed

    def fit(self, X: np.ndarray) -> "OutOfDistributionDetector":
        n_components = min(MAX_COMPONENTS, X.shape[0] - 1, X.shape[1])
        self.embed_ = Pipeline([
            *preprocessing_steps(self.preprocessing_kind, scale=True),
            ("pca", PCA(n_components=n_components, svd_solver="full", random_state=self.seed)),
        ]).fit(X)
        points = self.embed_.transform(X)
        self.neighbours_ = NearestNeighbors(n_neighbors=NEIGHBOURS + 1).fit(points)
        distances, _ = self.neighbours_.kneighbors(points)
        training_scores = distances[:, 1:].mean(axis=1)  # column 0 is the sample itself
        self.threshold_ = float(np.quantile(training_scores, QUANTILE))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Mean distance to the NEIGHBOURS nearest training samples. Computed with numpy from the fitted
        steps (the same arithmetic as the pipeline and NearestNeighbors, without their per-call overhead,
        which was most of a one-sample prediction's time)."""
        points = self._embed(np.asarray(X, dtype=float))
        training = self.neighbours_._fit_X
        training_norms = (training ** 2).sum(axis=1)[None, :]
        scores = np.empty(len(points))
        for start in range(0, len(points), BLOCK):
            block = points[start:start + BLOCK]
            squared = (block ** 2).sum(axis=1)[:, None] - 2 * block @ training.T + training_norms
            nearest = np.sqrt(np.maximum(np.partition(squared, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS], 0.0))
            scores[start:start + BLOCK] = nearest.mean(axis=1)
        return scores

    def standardised(self, X: np.ndarray) -> np.ndarray:
        """X through the fitted preprocessing steps (imputation, log-CPM for read counts, standardisation):
        each feature in standard units of the training samples, the space before the PCA."""
        X = np.asarray(X, dtype=float)
        for _, step in self.embed_.steps[:-1]:
            X = transform_step(step, X)
        return X

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Points in the space the score measures (engine.neighbours finds a sample's nearest there)."""
        return self._embed(np.asarray(X, dtype=float))

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """X through the fitted preprocessing steps, then the PCA (not whitened) as arithmetic."""
        X = self.standardised(X)
        pca = self.embed_.steps[-1][1]
        return (X - pca.mean_) @ pca.components_.T

    def rules(self, scores: np.ndarray, out_of_range: np.ndarray | None,
              n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """Which rule flags each sample: (far from the training samples: score above the threshold,
        too many values outside the training range: more than `out_of_range_limit(n_features)`)."""
        far = np.asarray(scores) > self.threshold_
        if out_of_range is None:
            return far, np.zeros_like(far)
        return far, np.asarray(out_of_range) > out_of_range_limit(n_features)

    def flag(self, scores: np.ndarray, out_of_range: np.ndarray | None, n_features: int) -> np.ndarray:
        far, outside = self.rules(scores, out_of_range, n_features)
        return far | outside


def out_of_range_limit(n_features: int) -> float:
    """A sample with more values than this outside the training range is flagged (at least 1)."""
    return max(1, OUT_OF_RANGE_SHARE * n_features)
