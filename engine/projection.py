"""A 2-D map of samples beside a model version's training samples.

The map is a principal component analysis (two components) of the training split in the model's own
preprocessed space (`ModelBundle.preprocess`: imputation, log-CPM for read counts, scaling where the
model scales), so distances on it are distances the model works with. Uploaded samples are placed on
the same map with `Projection.transform`. The fit is deterministic: the full SVD, and each component's
sign fixed so that its largest loading (by absolute value, the first one on a tie) is positive; the
same model version always gives the same picture.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from engine import datasets
from engine.registry import LoadedModel

N_COMPONENTS = 2


def training_samples(model: LoadedModel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """X (float, the schema's columns in order), labels and ids of the version's training split: its
    dataset without the held-out ids. The dataset is read from the verified cache (fetched if need be);
    a dataset whose checksum or training size differs from the version's metadata is refused."""
    version = model.version
    dataset = datasets.load(version.dataset_id)
    if dataset.checksum != version.dataset_checksum:
        raise datasets.DatasetError(
            f"{version.ref} was trained on {version.dataset_id} with checksum "
            f"{version.dataset_checksum}, the cached data has {dataset.checksum}")
    names = model.schema.names
    missing = [n for n in names if n not in dataset.X.columns]
    if missing:
        raise datasets.DatasetError(f"{version.dataset_id} lacks {len(missing)} of the model's features, "
                                    f"such as {missing[0]!r}")
    ids = dataset.X.index.astype(str)
    train = ~ids.isin(set(version.test_ids))
    if int(train.sum()) != version.split["n_train"]:
        raise datasets.DatasetError(f"{version.ref}: {int(train.sum())} training samples found, "
                                    f"the version was trained on {version.split['n_train']}")
    X = dataset.X.loc[train, names].to_numpy(dtype=float)
    labels = dataset.y.loc[train].astype(str).to_numpy()
    return X, labels, ids[train].tolist()


class Projection:
    """PCA to two dimensions of a model's preprocessed training samples; places new samples too."""

    def fit(self, model: LoadedModel) -> "Projection":
        X, labels, ids = training_samples(model)
        self._bundle = model.bundle
        Z = self._bundle.preprocess(X)
        self._pca = PCA(n_components=N_COMPONENTS, svd_solver="full").fit(Z)
        components = self._pca.components_
        largest = np.abs(components).argmax(axis=1)
        self._signs = np.sign(components[np.arange(len(components)), largest])
        self._signs[self._signs == 0] = 1.0
        self.training_ids = ids
        self.training_labels = labels
        self.training_coordinates = self._pca.transform(Z) * self._signs
        self.explained_variance_ratio = [float(v) for v in self._pca.explained_variance_ratio_]
        return self

    @property
    def components(self) -> np.ndarray:
        """The two loadings vectors (components, preprocessed features), with the fixed signs."""
        return self._pca.components_ * self._signs[:, None]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Map coordinates (samples, 2) of raw samples in the schema's order (NaN where missing)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self._pca.n_features_in_:
            raise ValueError(f"expected {self._pca.n_features_in_} features per sample, got shape {X.shape}")
        if len(X) == 0:
            return np.empty((0, N_COMPONENTS))
        return self._pca.transform(self._bundle.preprocess(X)) * self._signs


def projection_for(model: LoadedModel, cache=None) -> Projection:
    """The version's projection: fitted now, or once per version in `cache` (an engine.caching.BoundedCache
    its owner keeps, keyed by the version's folder and sha256). The engine keeps no cache of its own."""
    if cache is None:
        return Projection().fit(model)
    key = (str(model.version.path), model.version.sha256)
    return cache.get_or_create(key, lambda: Projection().fit(model))
