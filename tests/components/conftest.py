"""The figure tests' real held-out batches, predicted once per module."""
from __future__ import annotations

import pytest

from tests.components.held_out import MODELS, Batch


@pytest.fixture(scope="module")
def batches(registry, gdsc, tcga) -> dict[str, Batch]:
    return {"tissue-of-origin": Batch(registry.load("tissue-of-origin"), gdsc),
            "tcga-mirna-type": Batch(registry.load("tcga-mirna-type"), tcga)}


@pytest.fixture(params=MODELS)
def batch(request, batches) -> Batch:
    return batches[request.param]
