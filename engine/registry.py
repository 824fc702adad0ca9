"""The versioned model registry on disk.

    <root>/<name>/aliases.json            {"production": 2, "staging": 3}
    <root>/<name>/<version>/model.joblib  the ModelBundle
    <root>/<name>/<version>/metadata.json schema, dataset, seed, packages, metrics, model card, sha256

A version is written into a hidden temporary folder and renamed into place, so a crash leaves no half
version. Version numbers and aliases change under an exclusive file lock, so concurrent writers on one
machine never collide. An artifact is unpickled only after its sha256 matched the one in metadata.json.
"""
from __future__ import annotations

import fcntl
import json
import numbers
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import joblib

from engine import settings
from engine.caching import BoundedCache
from engine.card import model_card
from engine.checksums import sha256_file
from engine.headline import headline
from engine.schema import FeatureSchema

if TYPE_CHECKING:  # training and the bundle pull in scikit-learn: not needed to read the registry
    from engine.bundle import ModelBundle
    from engine.training import TrainingResult

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
ALIASES = "aliases.json"
PRODUCTION_ALIAS = "production"  # the alias a name alone resolves to
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
VERSION_PATTERN = re.compile(r"[0-9]{1,9}")  # ASCII digits: str.isdigit() also accepts "²", which int() refuses
ALIAS_PATTERN = NAME_PATTERN


class RegistryError(Exception):
    """A model, version or alias does not exist, or a request to the registry is malformed."""


def _shown(value) -> str:
    """A value from a request as an error message quotes it: its repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class IntegrityError(RegistryError):
    """An artifact's sha256 does not match the registry: it is never unpickled."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, read-only, as MLflow's entities are: typed properties over the parsed
    metadata.json, so that callers never index the raw dict. `metadata` stays for what has no property
    yet (and for writing it out whole)."""

    name: str
    version: int
    aliases: tuple[str, ...]
    path: Path
    metadata: dict = field(repr=False, compare=False)
    schema: FeatureSchema = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        """`name:version`, as `Registry.resolve` reads it back."""
        return f"{self.name}:{self.version}"

    @property
    def label(self) -> str:
        """The version number with its aliases, for a choice list: `2 (production)`."""
        return f"{self.version} ({', '.join(self.aliases)})" if self.aliases else str(self.version)

    @property
    def sha256(self) -> str:
        """The artifact's sha256: checked before the artifact is unpickled."""
        return self.metadata["artifact"]["sha256"]

    @property
    def artifact_file(self) -> str:
        return self.metadata["artifact"]["file"]

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["classes"])

    @property
    def algorithm(self) -> str:
        return self.metadata["algorithm"]

    @property
    def created(self) -> str:
        """When it was trained (ISO 8601, UTC, seconds)."""
        return self.metadata["created"]

    @property
    def seed(self) -> int:
        return int(self.metadata["seed"])

    @property
    def dataset_id(self) -> str:
        return self.metadata["dataset"]["id"]

    @property
    def dataset_checksum(self) -> str:
        return self.metadata["dataset"]["checksum"]

    @property
    def dataset_title(self) -> str:
        return self.metadata["dataset"]["provenance"]["title"]

    @property
    def provenance(self) -> dict:
        """The dataset's source, license, citation and policies."""
        return self.metadata["dataset"]["provenance"]

    @property
    def test_ids(self) -> list[str]:
        """The held-out split's sample ids (empty for a version stored without its split)."""
        return list(self.metadata.get("split", {}).get("test_ids", []))

    @property
    def split(self) -> dict:
        return self.metadata.get("split", {})

    @property
    def abstain_threshold(self) -> float:
        """Below this confidence a prediction is flagged low-confidence."""
        return float(self.metadata["abstain"]["threshold"])

    @property
    def abstain_target_accuracy(self) -> float:
        """The out-of-fold accuracy the abstain threshold was chosen to reach."""
        return float(self.metadata["abstain"]["target_accuracy"])

    @property
    def hyperparameters(self) -> dict:
        """The chosen candidate's parameters, its calibration and pipeline steps."""
        return self.metadata["hyperparameters"]

    @property
    def ood_threshold(self) -> float:
        return float(self.metadata["out_of_distribution"]["threshold"])

    @property
    def temperature(self) -> float:
        return float(self.metadata["temperature"])

    @property
    def cross_validation(self) -> dict:
        """Folds, candidates with their fold scores, the selection rule and the one selected."""
        return self.metadata["cross_validation"]

    @property
    def global_importance(self) -> dict:
        return self.metadata["global_importance"]

    @property
    def model_card(self) -> dict:
        return self.metadata["model_card"]

    @property
    def package_versions(self) -> dict:
        return self.metadata["package_versions"]

    @property
    def metrics(self) -> dict:
        """Every held-out figure, as engine.metrics.evaluate computed it."""
        return self.metadata["metrics"]

    @property
    def per_block(self) -> dict | None:
        """Held-out figures of each omics block alone against all blocks (engine.training.per_block_scores),
        for multi-omics datasets; None for the others."""
        return self.metrics.get("per_block")

    @property
    def headline_metrics(self) -> dict[str, float | None]:
        """The held-out figures every view leads with (engine.headline.HEADLINE_METRICS), by name."""
        return headline(self.metrics)


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    bundle: "ModelBundle"
    schema: FeatureSchema


def _write_json_atomic(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """'name', 'name@alias' or 'name:version' -> (name, alias, version)."""
    if not isinstance(ref, str):
        raise RegistryError(f"no model named {_shown(ref)}")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias, None
    if ":" in ref:
        name, version = ref.split(":", 1)
        if not VERSION_PATTERN.fullmatch(version):
            raise RegistryError(f"version in {ref!r} must be a number")
        return name, None, int(version)
    return ref, None, None


class Registry:
    """One registry root. It owns two caches: parsed versions (metadata.json and its FeatureSchema,
    keyed by the file's path and identity: a version folder never changes once renamed into place, and
    the API resolves a version on every request) and loaded artifacts (keyed by path and sha256, bounded,
    since a model can be large)."""

    VERSIONS_KEPT = 256
    MODELS_KEPT = 8

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root or settings.models_dir())
        self._versions: BoundedCache[tuple[dict, FeatureSchema]] = BoundedCache(self.VERSIONS_KEPT)
        self._bundles: BoundedCache[ModelBundle] = BoundedCache(self.MODELS_KEPT)
        self._alias_files: BoundedCache[dict[str, int]] = BoundedCache(self.VERSIONS_KEPT)
        self._loading = threading.Lock()  # one unpickling at a time: two requests never load one model twice

    # -- writing ---------------------------------------------------------------------------------

    def _folder(self, name: str) -> Path:
        """Where a model's versions live. Every read and write goes through here, so that a name from a
        request (text of any length, a number, a list, '..') is "no such model", never a path."""
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise RegistryError(f"no model named {_shown(name)}; a model's name is lower-case letters, digits and "
                                f"dashes (at most 64)")
        return self.root / name

    @contextmanager
    def _locked(self, name: str):
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield folder
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def register(self, name: str, result: "TrainingResult", aliases: tuple[str, ...] = ()) -> ModelVersion:
        """Store a trained model as the next version of `name`, then point `aliases` at it."""
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise RegistryError(f"model name {_shown(name)}: use lower-case letters, digits and dashes")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{name}-incoming-"))
        try:
            joblib.dump(result.bundle, staging / ARTIFACT, compress=3)
            metadata = dict(result.metadata)
            metadata["artifact"] = {"file": ARTIFACT, "sha256": sha256_file(staging / ARTIFACT),
                                    "bytes": (staging / ARTIFACT).stat().st_size}
            metadata["model_card"] = model_card(name, metadata)
            with self._locked(name) as folder:
                version = max(self._version_numbers(name), default=0) + 1
                metadata.update(name=name, version=version)
                _write_json_atomic(staging / METADATA, metadata)
                os.rename(staging, folder / str(version))  # atomic: the version appears whole or not at all
                for alias in aliases:
                    self._set_alias_locked(folder, alias, version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        self.get(name, version)  # must exist
        with self._locked(name) as folder:
            self._set_alias_locked(folder, alias, version)
        return self.get(name, version)

    def _set_alias_locked(self, folder: Path, alias: str, version: int) -> None:
        if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
            raise RegistryError(f"alias {_shown(alias)}: use lower-case letters, digits and dashes")
        aliases = self._read_aliases(folder.name)
        aliases[alias] = version
        _write_json_atomic(folder / ALIASES, aliases)

    # -- reading ---------------------------------------------------------------------------------

    def _read_aliases(self, name: str) -> dict[str, int]:
        """The model's aliases as the file says now. Parsed once per version of the file (it is replaced
        atomically, so a change gives a new inode): every API request resolves an alias, and a stat is all
        it costs then, while a rollback by another process still applies at once."""
        path = self._folder(name) / ALIASES
        try:
            stat = path.stat()
        except FileNotFoundError:
            return {}
        key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        return dict(self._alias_files.get_or_create(key, lambda: json.loads(path.read_text())))

    def _version_numbers(self, name: str) -> list[int]:
        folder = self._folder(name)
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if VERSION_PATTERN.fullmatch(p.name) and (p / METADATA).exists())

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and self._version_numbers(p.name))

    def aliases(self, name: str) -> dict[str, int]:
        return self._read_aliases(name)

    def versions(self, name: str) -> list[ModelVersion]:
        return [self.get(name, v) for v in self._version_numbers(name)]

    def get(self, name: str, version: int) -> ModelVersion:
        return self._get(name, version, self._read_aliases(name))

    def _get(self, name: str, version: int, all_aliases: dict[str, int]) -> ModelVersion:
        if not isinstance(version, numbers.Integral) or isinstance(version, bool) or not 0 < version < 10**9:
            raise RegistryError(f"{_shown(name)} has no version {_shown(version)}: versions are whole numbers")
        path = self._folder(name) / str(version)
        if not (path / METADATA).exists():
            known = self._version_numbers(name)
            if not known:
                raise RegistryError(f"no model named {name!r}; known: {', '.join(self.models()) or 'none'}")
            raise RegistryError(f"{name} has no version {version}; versions: {', '.join(map(str, known))}")
        metadata, schema = self._parsed(path / METADATA)
        aliases = tuple(sorted(a for a, v in all_aliases.items() if v == version))
        return ModelVersion(name=name, version=version, aliases=aliases, path=path, metadata=metadata, schema=schema)

    def _parsed(self, path: Path) -> tuple[dict, FeatureSchema]:
        """metadata.json parsed and its FeatureSchema built once (hundreds of features: a millisecond)."""
        stat = path.stat()

        def parse():
            metadata = json.loads(path.read_text())
            return metadata, FeatureSchema.from_dict(metadata["feature_schema"])

        return self._versions.get_or_create((str(path), stat.st_ino, stat.st_mtime_ns), parse)

    def version_of(self, name: str, version_or_alias: str | int | None = None) -> ModelVersion:
        """The one way a page, the API, a notebook or a report turns "a version or an alias" into a
        version: a number (or its digits as text) is that version, other text an alias, None or empty the
        version a caller gets by default (production's, else the newest)."""
        text = "" if version_or_alias is None else str(version_or_alias).strip()
        if not text:
            return self.resolve(name)
        return self.get(name, int(text)) if VERSION_PATTERN.fullmatch(text) else self.resolve(f"{name}@{text}")

    def default_version(self, name: str) -> int | None:
        """The version shown when none is asked for: production's, else the newest; None without versions."""
        aliases, numbers = self._read_aliases(name), self._version_numbers(name)
        return aliases.get(PRODUCTION_ALIAS, numbers[-1] if numbers else None)

    def resolve(self, ref: str) -> ModelVersion:
        """'name' (its production version, else its latest), 'name@alias' or 'name:version'."""
        name, alias, version = parse_ref(ref)
        if version is not None:
            return self.get(name, version)
        aliases = self._read_aliases(name)
        if alias is not None:
            if alias not in aliases:
                raise RegistryError(f"{name} has no alias {_shown(alias)}; aliases: {', '.join(aliases) or 'none'}")
            return self._get(name, aliases[alias], aliases)
        if PRODUCTION_ALIAS in aliases:
            return self._get(name, aliases[PRODUCTION_ALIAS], aliases)
        known = self._version_numbers(name)
        if not known:
            raise RegistryError(f"no model named {name!r}; known: {', '.join(self.models()) or 'none'}")
        return self._get(name, known[-1], aliases)

    def load(self, ref: str | ModelVersion) -> LoadedModel:
        """The version's model, verified against its sha256 before unpickling; kept by this registry."""
        version = ref if isinstance(ref, ModelVersion) else self.resolve(ref)
        artifact = version.path / version.artifact_file
        key = (str(artifact), version.sha256)  # the sha256 names the content; the path, where it was checked
        bundle = self._bundles.get(key)
        if bundle is None:
            with self._loading:
                bundle = self._bundles.get(key)
                if bundle is None:
                    bundle = self._bundles.put(key, self._verified_bundle(version, artifact))
        return LoadedModel(version=version, bundle=bundle, schema=version.schema)

    @staticmethod
    def _verified_bundle(version: ModelVersion, artifact: Path) -> "ModelBundle":
        if not artifact.exists():
            raise IntegrityError(f"{version.ref}: artifact {artifact} is missing")
        actual = sha256_file(artifact)
        if actual != version.sha256:
            raise IntegrityError(f"{version.ref}: artifact sha256 {actual} does not match the registry's "
                                 f"{version.sha256}; refusing to load it")
        return joblib.load(artifact)
