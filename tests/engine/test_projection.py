"""The 2-D projection of samples over a model's training samples, on the session's real models."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from engine import projection
from engine.caching import BoundedCache

MODELS = ("tissue-of-origin", "tcga-mirna-type")


@pytest.fixture(params=MODELS)
def model(request, registry):
    return registry.load(request.param)


def test_training_samples_are_the_training_split(model, gdsc, tcga):
    dataset = {"gdsc-tissue": gdsc, "tcga-mirna": tcga}[model.version.metadata["dataset"]["id"]]
    split = model.version.metadata["split"]
    X, labels, ids = projection.training_samples(model)
    assert not set(ids) & set(split["test_ids"])
    assert len(ids) == len(set(ids)) == split["n_train"] == len(dataset.X) - split["n_test"]
    assert X.shape == (split["n_train"], len(model.schema.names)) and X.dtype == float
    expected = dataset.X.loc[ids, model.schema.names]
    assert np.array_equal(X, expected.to_numpy(float))
    assert list(labels) == dataset.y.loc[ids].astype(str).tolist()
    assert sorted(set(labels)) == model.version.classes


def test_projection_is_deterministic_and_transform_matches(model):
    first, second = projection.Projection().fit(model), projection.Projection().fit(model)
    assert np.array_equal(first.training_coordinates, second.training_coordinates)
    assert first.explained_variance_ratio == second.explained_variance_ratio
    X, labels, ids = projection.training_samples(model)
    assert first.training_coordinates.shape == (len(X), 2)
    assert np.allclose(first.transform(X), first.training_coordinates, atol=1e-12)
    assert list(first.training_labels) == list(labels) and first.training_ids == ids
    ratio = first.explained_variance_ratio
    assert len(ratio) == 2 and 0 < ratio[1] <= ratio[0] < 1 and sum(ratio) <= 1
    # the sign convention: each component's largest loading is positive
    components = first.components
    assert (components[np.arange(2), np.abs(components).argmax(axis=1)] > 0).all()
    # PCA centres the training samples
    assert np.allclose(first.training_coordinates.mean(axis=0), 0, atol=1e-8)
    assert first.transform(X[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match="features per sample"):
        first.transform(X[:, :5])


def test_projection_for_caches_per_version(registry):
    tissue, mirna = registry.load("tissue-of-origin"), registry.load("tcga-mirna-type")
    cache = BoundedCache(4)
    results = []
    threads = [threading.Thread(target=lambda: results.append(projection.projection_for(mirna, cache)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert projection.projection_for(mirna, cache) is results[0]
    assert projection.projection_for(tissue, cache) is projection.projection_for(tissue, cache) is not results[0]
    assert projection.projection_for(mirna) is not results[0]  # no cache given: fitted anew, nothing kept


def test_held_out_tcga_samples_land_near_their_class(registry, tcga):
    model = registry.load("tcga-mirna-type")
    proj = projection.projection_for(model)
    classes = sorted(set(proj.training_labels))
    labels = np.asarray(proj.training_labels)
    centroids = np.array([proj.training_coordinates[labels == c].mean(axis=0) for c in classes])
    test_ids = model.version.metadata["split"]["test_ids"]
    points = proj.transform(tcga.X.loc[test_ids, model.schema.names].to_numpy(float))
    nearest = np.array(classes)[np.linalg.norm(points[:, None, :] - centroids[None], axis=2).argmin(axis=1)]
    agreement = float(np.mean(nearest == tcga.y.loc[test_ids].to_numpy()))
    assert agreement > 0.5, agreement
