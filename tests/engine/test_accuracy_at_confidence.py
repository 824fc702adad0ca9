"""The held-out accuracy at a sample's confidence, read from a version's stored accuracy-coverage curve."""
from __future__ import annotations

import numpy as np
import pytest

from engine.metrics import accuracy_at_confidence, accuracy_coverage_curve


def test_the_accuracy_among_samples_at_least_this_confident(registry):
    curve = registry.resolve("tcga-mirna-type").metrics["accuracy_coverage"]
    lowest = min(curve["threshold"])
    assert accuracy_at_confidence(curve, lowest) == (curve["accuracy"][-1], curve["coverage"][-1])
    assert accuracy_at_confidence(curve, 1.5) == (None, None)  # no held-out sample is that confident


def test_it_follows_the_curve_of_known_outcomes():
    # made-up outcomes: the four most confident samples right, the next two wrong
    correct = np.array([1, 1, 1, 1, 0, 0], dtype=float)
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.6, 0.5])
    curve = accuracy_coverage_curve(correct, confidence)
    assert accuracy_at_confidence(curve, 0.85) == (1.0, pytest.approx(0.5))
    assert accuracy_at_confidence(curve, 0.55) == (pytest.approx(0.8), pytest.approx(5 / 6, abs=1e-6))
