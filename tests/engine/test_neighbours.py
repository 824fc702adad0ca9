"""The most similar training samples of a sample (engine.neighbours), on the session's real models and
their real held-out samples."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import neighbours
from engine.caching import BoundedCache
from engine.ood import NEIGHBOURS


@pytest.fixture(scope="module")
def mirna(registry):
    return registry.load("tcga-mirna-type")


@pytest.fixture(scope="module")
def tissue(registry):
    return registry.load("tissue-of-origin")


def _held_out(model, dataset):
    ids = model.version.test_ids
    return dataset.X.loc[ids, model.schema.names].to_numpy(float), dataset.y.loc[ids].astype(str).to_numpy()


def test_a_held_out_mirna_samples_nearest_are_mostly_of_its_true_class(mirna, tcga):
    references = neighbours.ReferenceSamples(mirna)
    X, truth = _held_out(mirna, tcga)
    shares = np.array([references.nearest(x, 10).share_of(label) for x, label in zip(X, truth)])
    assert shares.mean() > 0.95  # measured 0.998 on the default model (bench/neighbours_bench.py)
    assert (shares > 0.5).mean() > 0.97  # nearly every sample: most of its ten are of its own class


def test_the_neighbours_are_those_the_out_of_distribution_score_measures(mirna, tcga):
    references = neighbours.ReferenceSamples(mirna)
    X, _ = _held_out(mirna, tcga)
    scores = mirna.bundle.ood.score(X[:20])
    for x, score in zip(X[:20], scores):
        found = references.nearest(x, NEIGHBOURS)
        assert np.mean([n.distance for n in found.neighbours]) == pytest.approx(score, rel=1e-9)


def test_each_neighbour_has_its_class_distance_and_the_features_that_differ_most(mirna, tcga):
    references = neighbours.ReferenceSamples(mirna)
    X, _ = _held_out(mirna, tcga)
    found = references.nearest(X[0], 10)
    assert found.k == 10 and found.predicted in mirna.bundle.classes
    distances = [n.distance for n in found.neighbours]
    assert distances == sorted(distances) and distances[0] > 0  # a held-out sample is no training sample
    assert found.sharing_predicted == sum(n.label == found.predicted for n in found.neighbours)
    assert found.predicted == mirna.bundle.classes[int(np.argmax(mirna.bundle.predict_proba(X[:1])[0]))]
    by_id = dict(zip(references.ids, range(len(references))))
    names = mirna.schema.names
    standard_sample = mirna.bundle.ood.standardised(X[:1])[0]
    for n in found.neighbours:
        row = by_id[n.id]
        assert n.label == references.labels[row]
        standard = mirna.bundle.ood.standardised(references.X[row:row + 1])[0] - standard_sample
        assert len(n.differences) == neighbours.DIFFERING
        sizes = [abs(d.difference) for d in n.differences]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] == pytest.approx(np.abs(standard).max())
        for d in n.differences:
            j = names.index(d.feature)
            assert d.difference == pytest.approx(standard[j])
            assert (d.sample_value, d.neighbour_value) == (X[0, j], references.X[row, j])  # raw values
            assert d.group == mirna.schema.groups[j]


def test_the_search_is_deterministic_and_a_tie_goes_to_the_smaller_id(tissue):
    references = neighbours.ReferenceSamples(tissue)
    assert neighbours.ReferenceSamples(tissue).nearest(references.X[0]) == references.nearest(references.X[0])
    # Two made-up twins of the first training sample (its real values under ids of their own): three samples
    # at one distance (0, to rounding), listed by id whatever their order among the training samples.
    twins = copy.copy(references)
    twins.X = np.vstack([references.X[:1], references.X, references.X[:1]])
    twins.points = np.vstack([references.points[:1], references.points, references.points[:1]])
    twins.ids = np.concatenate([["zz-made-up-twin"], references.ids, ["00-made-up-twin"]])
    twins.labels = np.concatenate([references.labels[:1], references.labels, references.labels[:1]])
    found = twins.nearest(references.X[0], 4)
    assert [n.id for n in found.neighbours[:3]] == sorted(["zz-made-up-twin", references.ids[0], "00-made-up-twin"])
    assert len({n.distance for n in found.neighbours[:3]}) == 1 and found.neighbours[0].distance < 1e-9
    assert found.neighbours[3].distance > 1e-3


def test_k_is_checked_and_the_reference_samples_are_cached_by_their_owner(mirna, tcga):
    X, _ = _held_out(mirna, tcga)
    for bad in (0, neighbours.MAX_K + 1, True, "3", 2.5, None):
        with pytest.raises(ValueError, match="number of neighbours"):
            neighbours.nearest_training_samples(mirna, X[0], bad)
    cache = BoundedCache(2)
    first = neighbours.reference_samples_for(mirna, cache)
    assert neighbours.reference_samples_for(mirna, cache) is first and len(cache) == 1
    given = neighbours.nearest_training_samples(mirna, X[0], 3, predicted="PRAD", cache=cache)
    assert given.predicted == "PRAD" and given.k == 3 and len(cache) == 1
    with pytest.raises(ValueError, match="expected"):
        first.nearest(X[0, :5])


@pytest.mark.parametrize("name", ["tissue-of-origin", "tcga-mirna-type", "brca-subtype"])
def test_for_each_default_model_the_nearest_agree_with_the_true_class_more_than_chance(name, registry, brca_model,
                                                                                      gdsc, tcga, brca):
    model = brca_model if name == "brca-subtype" else registry.load(name)
    dataset = {"tissue-of-origin": gdsc, "tcga-mirna-type": tcga, "brca-subtype": brca}[name]
    references = neighbours.ReferenceSamples(model)
    X, truth = _held_out(model, dataset)
    agreement = np.mean([references.nearest(x, 10).share_of(label) for x, label in zip(X, truth)])
    frequency = {c: np.mean(references.labels == c) for c in set(references.labels)}
    chance = np.mean([frequency.get(label, 0.0) for label in truth])  # ten training samples drawn at random
    assert agreement > 1.5 * chance, (agreement, chance)  # the default models: 0.129, 0.998, 0.670 against
    # 0.059, 0.403, 0.362 (bench/neighbours_bench.py)
