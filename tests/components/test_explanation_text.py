"""The plain words of the explain page: which out-of-distribution rule fired and what it means, and where a
call came from per feature group."""
from __future__ import annotations

import re

import numpy as np
import pytest

from components.explanation_text import distribution_words, group_words
from engine.ood import out_of_range_limit
from engine.predict import predict

N = 678  # features of the tissue model


def no_raw_numbers(text: str) -> bool:
    """No distance score or threshold (decimals) in the sentence: only counts of values."""
    return re.search(r"\d\.\d", text) is None


def test_neither_rule():
    text = distribution_words(False, False, 0, N)
    assert text.startswith("The sample resembles the training samples")
    assert "all its values lie within the ranges seen in training" in text and "Warning" not in text
    few = distribution_words(False, False, 3, N)
    assert "only 3 of its 678 values lie outside the range seen in training, too few to matter" in few


def test_distance_rule_only():
    text = distribution_words(True, False, 0, N)
    assert text.startswith("Warning: it lies farther from the training samples than 99 in 100")
    assert "although all its values lie within the ranges seen in training" in text
    assert "may not hold, whatever its probability" in text and no_raw_numbers(text)
    assert "only 1 of its 678 values lies outside" in distribution_words(True, False, 1, N)


def test_range_rule_only():
    text = distribution_words(False, True, 12, N)
    assert text.startswith("Warning: 12 of its 678 values lie outside the range seen in training")
    assert "lies close to the training samples" in text and "farther" not in text
    assert "check those values" in text and no_raw_numbers(text)


def test_both_rules():
    text = distribution_words(True, True, 40, N)
    assert text.startswith("Warning: this sample is unlike the training samples on both counts")
    assert "farther from the training samples than 99 in 100" in text
    assert "40 of its 678 values lie outside the range seen in training" in text
    assert "do not rely on the prediction" in text and no_raw_numbers(text)


def test_the_engine_says_which_rule_fired(registry, tcga):
    """Real held-out samples, the same ones with half their miRNAs silenced (far from training), and
    real ones given many out-of-range counts: each rule is reported on its own."""
    model = registry.load("tcga-mirna-type")
    ids = model.version.metadata["split"]["test_ids"][:10]
    X = tcga.X.loc[ids].to_numpy(float)
    n = X.shape[1]
    shifted = X.copy()
    shifted[:, ::2] = 0.0
    many = np.full(len(ids), int(out_of_range_limit(n)) + 5)
    normal, far = predict(model, X, ids, np.zeros(len(ids))), predict(model, shifted, ids, np.zeros(len(ids)))
    outside = predict(model, X, ids, many)
    assert far.far_from_training.all() and not far.outside_range.any()
    assert outside.outside_range.all() and (outside.far_from_training == normal.far_from_training).all()
    assert (outside.out_of_distribution == (outside.far_from_training | outside.outside_range)).all()
    both = predict(model, shifted, ids, many)
    assert both.far_from_training.all() and both.outside_range.all()
    words = distribution_words(bool(both.far_from_training[0]), bool(both.outside_range[0]), int(many[0]), n)
    assert "on both counts" in words and f"{many[0]} of its {n} values" in words
    assert predict(model, X, ids).outside_range.sum() == 0  # no counts given: the range rule is silent


@pytest.mark.parametrize("n_features, limit", [(678, 6.78), (60, 1)])
def test_the_range_rule_limit(n_features, limit):
    assert out_of_range_limit(n_features) == pytest.approx(limit)


def test_group_sums_in_words_largest_effect_first():
    sums = {"miRNA": -0.1, "mRNA": 0.6, "methylation": 0.3}  # made-up sums: only their order and shares matter
    text = group_words(sums, "LumA")
    assert text.index("mRNA +0.6 (60%)") < text.index("methylation +0.3 (30%)") < text.index("miRNA -0.1 (10%)")
    assert "toward LumA" in text
    assert group_words({"mutation": 0.4}, "Lung") == ""  # one group compares nothing
