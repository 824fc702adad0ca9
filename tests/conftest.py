"""Session fixtures: real datasets, read once, and small real models, trained once per test session.

Datasets come from the shared cache (CANCER_ALPHA_DATA_DIR, default var/data), fetched on first use.
Models are trained on the real data with few cross-validation folds, or on real-data subsets (fewer
features) where a test needs an algorithm that is slow to train; nothing here is made-up data."""
from __future__ import annotations

import dataclasses

import pytest

from engine import datasets, training
from engine.registry import PRODUCTION_ALIAS, Registry

FAST_FOLDS = 3


def feature_subset(dataset: datasets.Dataset, n_features: int) -> datasets.Dataset:
    """The same real samples and labels on the first n features: a smaller, quicker problem."""
    names = dataset.schema.names[:n_features]
    schema = dataclasses.replace(dataset.schema, features=dataset.schema.features[:n_features])
    return dataclasses.replace(dataset, X=dataset.X[names], schema=schema)


@pytest.fixture(scope="session")
def gdsc() -> datasets.Dataset:
    return datasets.load("gdsc-tissue")


@pytest.fixture(scope="session")
def tcga() -> datasets.Dataset:
    return datasets.load("tcga-mirna")


@pytest.fixture(scope="session")
def models_root(tmp_path_factory, gdsc, tcga):
    """A registry holding the two default models (logistic regression, real data) under production."""
    root = tmp_path_factory.mktemp("models")
    registry = Registry(root)
    for name, dataset in (("tissue-of-origin", gdsc), ("tcga-mirna-type", tcga)):
        result = training.train(dataset, algorithm="logreg", seed=7, cv_folds=FAST_FOLDS)
        registry.register(name, result, aliases=(PRODUCTION_ALIAS,))
    return root


@pytest.fixture(scope="session")
def registry(models_root) -> Registry:
    return Registry(models_root)


@pytest.fixture(scope="session")
def tree_models(gdsc, tcga):
    """A random forest on GDSC (as the default tissue model is) and a gradient-boosting model on a
    60-miRNA subset of TCGA (gradient boosting is slow to train)."""
    forest = training.train(gdsc, algorithm="random-forest", seed=3, cv_folds=FAST_FOLDS)
    mirna_subset = feature_subset(tcga, 60)
    boosted = training.train(mirna_subset, algorithm="hist-gb", seed=3, cv_folds=FAST_FOLDS)
    return {"random-forest": (forest, gdsc), "hist-gb": (boosted, mirna_subset)}
