"""The registry: versions, aliases, integrity before unpickling, atomic and concurrent writes."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil

import joblib
import pytest

from engine.registry import IntegrityError, Registry, RegistryError


@pytest.fixture
def scratch(tmp_path, models_root):
    """A writable copy of the session registry."""
    root = tmp_path / "models"
    shutil.copytree(models_root, root)
    return Registry(root)


def test_resolves_names_aliases_and_versions(registry):
    production = registry.resolve("tissue-of-origin")
    assert production.aliases == ("production",)
    assert registry.resolve("tissue-of-origin@production") == production
    assert registry.resolve("tissue-of-origin:1") == production
    assert registry.models() == ["tcga-mirna-type", "tissue-of-origin"]
    meta = production.metadata
    for key in ("feature_schema", "dataset", "seed", "algorithm", "hyperparameters", "package_versions",
                "metrics", "created", "artifact", "model_card"):
        assert key in meta
    assert meta["model_card"]["intended_use"] == "Research use only, not for diagnosis."
    assert meta["dataset"]["checksum"].startswith("sha256:")
    with pytest.raises(RegistryError, match="no version 9"):
        registry.resolve("tissue-of-origin:9")
    with pytest.raises(RegistryError, match="no alias 'staging'"):
        registry.resolve("tissue-of-origin@staging")
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        registry.resolve("nope")


def test_new_version_and_alias_moves(scratch, models_root):
    result = _result_of(scratch, "tcga-mirna-type")
    new = scratch.register("tcga-mirna-type", result, aliases=("staging",))
    assert new.version == 2 and new.aliases == ("staging",)
    assert scratch.resolve("tcga-mirna-type").version == 1  # production did not move
    scratch.set_alias("tcga-mirna-type", "production", 2)
    assert scratch.resolve("tcga-mirna-type").version == 2
    scratch.set_alias("tcga-mirna-type", "production", 1)  # roll back
    assert scratch.resolve("tcga-mirna-type@production").version == 1


def _result_of(registry, name):
    from engine.training import TrainingResult

    version = registry.resolve(name)
    meta = {k: v for k, v in version.metadata.items() if k not in ("name", "version", "artifact", "model_card")}
    return TrainingResult(bundle=registry.load(version).bundle, metadata=meta)


class Exploit:
    """Unpickling this object writes a file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_tampered_artifact_is_never_unpickled(scratch, tmp_path):
    version = scratch.resolve("tissue-of-origin")
    marker = tmp_path / "pwned"
    with open(version.path / "model.joblib", "wb") as handle:
        pickle.dump(Exploit(str(marker)), handle)
    with pytest.raises(IntegrityError, match="does not match"):
        scratch.load("tissue-of-origin")
    assert not marker.exists()
    # the check is real: unpickling the same file directly does run the payload
    joblib.load(version.path / "model.joblib")
    assert marker.exists()


def test_a_version_or_an_alias_is_read_one_way(registry):
    production = registry.resolve("tissue-of-origin")
    for asked in (None, "", " ", 1, "1", "production", " production "):
        assert registry.version_of("tissue-of-origin", asked) == production
    assert registry.default_version("tissue-of-origin") == production.version
    for bad in ("²", "1.0", "-1", "9" * 12):  # "²".isdigit() is true, but it is no version number
        with pytest.raises(RegistryError):
            registry.version_of("tissue-of-origin", bad)
    with pytest.raises(RegistryError, match="must be a number"):
        registry.resolve("tissue-of-origin:²")


def test_loaded_models_are_cached(scratch):
    first = scratch.load("tissue-of-origin")
    assert scratch.load("tissue-of-origin:1").bundle is first.bundle


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("simulated crash while writing the artifact")


def test_a_crash_mid_write_leaves_no_half_version(scratch):
    from engine.training import TrainingResult

    before = sorted(os.listdir(scratch.root / "tcga-mirna-type"))
    broken = TrainingResult(bundle=Unpicklable(), metadata={})
    with pytest.raises(RuntimeError, match="simulated crash"):
        scratch.register("tcga-mirna-type", broken, aliases=("production",))
    assert sorted(os.listdir(scratch.root / "tcga-mirna-type")) == before
    assert [p for p in os.listdir(scratch.root) if p.startswith(".")] == []
    assert scratch.resolve("tcga-mirna-type").version == 1


def _register_copy(root, name, alias):
    registry = Registry(root)
    version = registry.register(name, _result_of(registry, "tcga-mirna-type"), aliases=(alias,))
    return version.version


def test_concurrent_writers_get_distinct_versions(scratch):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        versions = pool.starmap(_register_copy, [(scratch.root, "copy", f"a{i}") for i in range(4)])
    assert sorted(versions) == [1, 2, 3, 4]
    assert scratch.aliases("copy") == {f"a{i}": v for i, v in enumerate(versions)}


def test_bad_names_are_refused(scratch):
    with pytest.raises(RegistryError, match="model name"):
        scratch.register("../escape", _result_of(scratch, "tcga-mirna-type"))
    with pytest.raises(RegistryError, match="alias"):
        scratch.set_alias("tcga-mirna-type", "Prod/../x", 1)
