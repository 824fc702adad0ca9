"""Session fixtures: real datasets, read once, and small real models, trained once per test session.

Datasets come from the shared cache (CANCER_ALPHA_DATA_DIR, default var/data), fetched on first use.
Models are trained on the real data with few cross-validation folds, or on real-data subsets (fewer
features) where a test needs an algorithm that is slow to train; nothing here is made-up data."""
from __future__ import annotations

import pytest

from engine import datasets, training
from engine.registry import PRODUCTION_ALIAS, Registry
from tests.helpers import FAST_FOLDS, TRAINING_SEED, app_with_test_users, feature_subset, make_settings


@pytest.fixture(scope="session")
def gdsc() -> datasets.Dataset:
    return datasets.load("gdsc-tissue")


@pytest.fixture(scope="session")
def tcga() -> datasets.Dataset:
    return datasets.load("tcga-mirna")


@pytest.fixture(scope="session")
def brca() -> datasets.Dataset:
    return datasets.load("tcga-brca-pam50")


@pytest.fixture(scope="session")
def models_root(tmp_path_factory, gdsc, tcga):
    """A registry holding the two default models (logistic regression, real data) under production."""
    root = tmp_path_factory.mktemp("models")
    registry = Registry(root)
    for name, dataset in (("tissue-of-origin", gdsc), ("tcga-mirna-type", tcga)):
        result = training.train(dataset, algorithm="logreg", seed=TRAINING_SEED, cv_folds=FAST_FOLDS)
        registry.register(name, result, aliases=(PRODUCTION_ALIAS,))
    return root


@pytest.fixture(scope="session")
def registry(models_root) -> Registry:
    return Registry(models_root)


@pytest.fixture(scope="session")
def brca_models_root(tmp_path_factory, brca):
    """A registry of its own holding the multi-omics breast cancer subtype model (logistic regression, few
    folds, real data) under production. Kept out of `models_root`, whose two models the portal tests count;
    a test that needs it beside them copies `models_root` in."""
    root = tmp_path_factory.mktemp("models-brca")
    result = training.train(brca, algorithm="logreg", seed=TRAINING_SEED, cv_folds=FAST_FOLDS)
    Registry(root).register("brca-subtype", result, aliases=(PRODUCTION_ALIAS,))
    return root


@pytest.fixture(scope="session")
def brca_model(brca_models_root):
    """The session's breast cancer subtype model, loaded (its checksum verified)."""
    return Registry(brca_models_root).load(f"brca-subtype@{PRODUCTION_ALIAS}")


@pytest.fixture(scope="session")
def tree_models(gdsc, tcga):
    """A random forest on GDSC (as the default tissue model is) and a gradient-boosting model on a
    60-miRNA subset of TCGA (gradient boosting is slow to train)."""
    forest = training.train(gdsc, algorithm="random-forest", seed=3, cv_folds=FAST_FOLDS)
    mirna_subset = feature_subset(tcga, 60)
    boosted = training.train(mirna_subset, algorithm="hist-gb", seed=3, cv_folds=FAST_FOLDS)
    return {"random-forest": (forest, gdsc), "hist-gb": (boosted, mirna_subset)}


@pytest.fixture
def make_portal(tmp_path, models_root):
    """make_portal(database_url=None, **settings): a portal app (on a SQLite file of the test's own by
    default) over the session's registry, with the made-up test users; its database is disposed after
    the test."""
    built = []

    def make(database_url: str | None = None, **overrides):
        url = database_url or f"sqlite:///{tmp_path / 'portal.db'}"
        built.append(app_with_test_users(make_settings(tmp_path, url, models_root, **overrides)))
        return built[-1]

    yield make
    for app in built:
        app.server.extensions["cancer_alpha"].db.dispose()


@pytest.fixture
def app(make_portal):
    """A portal on SQLite (tests/portal overrides it with one per database kind)."""
    return make_portal()
