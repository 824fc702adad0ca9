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
from engine.checksums import sha256_file
from engine.card import model_card
from engine.schema import FeatureSchema

if TYPE_CHECKING:  # training and the bundle pull in scikit-learn: not needed to read the registry
    from engine.bundle import ModelBundle
    from engine.training import TrainingResult

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
ALIASES = "aliases.json"
PRODUCTION = "production"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ALIAS_PATTERN = NAME_PATTERN


class RegistryError(Exception):
    """A model, version or alias does not exist, or a request to the registry is malformed."""


class IntegrityError(RegistryError):
    """An artifact's sha256 does not match the registry: it is never unpickled."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version. Read-only; `metadata` is the parsed metadata.json."""

    name: str
    version: int
    aliases: tuple[str, ...]
    path: Path
    metadata: dict = field(repr=False, compare=False)

    @property
    def sha256(self) -> str:
        return self.metadata["artifact"]["sha256"]

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def schema(self) -> FeatureSchema:
        return _schema(str(self.path), self.sha256, self.metadata)

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["classes"])

    @property
    def metrics(self) -> dict:
        return self.metadata["metrics"]


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


_schemas: dict[tuple[str, str], FeatureSchema] = {}


def _schema(path: str, sha256: str, metadata: dict) -> FeatureSchema:
    """A version's FeatureSchema, built once per process (hundreds of features: a millisecond each time)."""
    schema = _schemas.get((path, sha256))
    if schema is None:
        schema = _schemas[(path, sha256)] = FeatureSchema.from_dict(metadata["feature_schema"])
    return schema


def _read_metadata(path: Path) -> dict:
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_mtime_ns)
    metadata = _metadata.get(key)
    if metadata is None:
        metadata = _metadata[key] = json.loads(path.read_text())
    return metadata


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """'name', 'name@alias' or 'name:version' -> (name, alias, version)."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias, None
    if ":" in ref:
        name, version = ref.split(":", 1)
        if not version.isdigit():
            raise RegistryError(f"version in {ref!r} must be a number")
        return name, None, int(version)
    return ref, None, None


_cache_lock = threading.Lock()
_loaded: dict[tuple[str, str], ModelBundle] = {}  # (artifact path, sha256) -> bundle, process-wide
# A version folder never changes once renamed into place, so its parsed metadata.json is kept per
# process (keyed by path and file identity): the API resolves a version on every request.
_metadata: dict[tuple[str, int, int], dict] = {}


class Registry:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root or settings.models_dir())

    # -- writing ---------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, name: str):
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield folder
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def register(self, name: str, result: "TrainingResult", aliases: tuple[str, ...] = ()) -> ModelVersion:
        """Store a trained model as the next version of `name`, then point `aliases` at it."""
        if not NAME_PATTERN.match(name):
            raise RegistryError(f"model name {name!r}: use lower-case letters, digits and dashes")
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
        if not ALIAS_PATTERN.match(alias):
            raise RegistryError(f"alias {alias!r}: use lower-case letters, digits and dashes")
        aliases = self._read_aliases(folder.name)
        aliases[alias] = version
        _write_json_atomic(folder / ALIASES, aliases)

    # -- reading ---------------------------------------------------------------------------------

    def _read_aliases(self, name: str) -> dict[str, int]:
        path = self.root / name / ALIASES
        return json.loads(path.read_text()) if path.exists() else {}

    def _version_numbers(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / METADATA).exists())

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
        path = self.root / name / str(version)
        if not (path / METADATA).exists():
            known = self._version_numbers(name)
            if not known:
                raise RegistryError(f"no model named {name!r}; known: {', '.join(self.models()) or 'none'}")
            raise RegistryError(f"{name} has no version {version}; versions: {', '.join(map(str, known))}")
        metadata = _read_metadata(path / METADATA)
        aliases = tuple(sorted(a for a, v in all_aliases.items() if v == version))
        return ModelVersion(name=name, version=version, aliases=aliases, path=path, metadata=metadata)

    def resolve(self, ref: str) -> ModelVersion:
        """'name' (its production version, else its latest), 'name@alias' or 'name:version'."""
        name, alias, version = parse_ref(ref)
        if version is not None:
            return self.get(name, version)
        aliases = self._read_aliases(name)
        if alias is not None:
            if alias not in aliases:
                raise RegistryError(f"{name} has no alias {alias!r}; aliases: {', '.join(aliases) or 'none'}")
            return self._get(name, aliases[alias], aliases)
        if PRODUCTION in aliases:
            return self._get(name, aliases[PRODUCTION], aliases)
        known = self._version_numbers(name)
        if not known:
            raise RegistryError(f"no model named {name!r}; known: {', '.join(self.models()) or 'none'}")
        return self._get(name, known[-1], aliases)

    def load(self, ref: str | ModelVersion) -> LoadedModel:
        """The version's model, verified against its sha256 before unpickling; cached per process."""
        version = ref if isinstance(ref, ModelVersion) else self.resolve(ref)
        artifact = version.path / version.metadata["artifact"]["file"]
        key = (str(artifact), version.sha256)  # the sha256 names the content; the path, where it was checked
        with _cache_lock:
            bundle = _loaded.get(key)
            if bundle is None:
                if not artifact.exists():
                    raise IntegrityError(f"{version.ref}: artifact {artifact} is missing")
                actual = sha256_file(artifact)
                if actual != version.sha256:
                    raise IntegrityError(
                        f"{version.ref}: artifact sha256 {actual} does not match the registry's "
                        f"{version.sha256}; refusing to load it")
                bundle = joblib.load(artifact)
                _loaded[key] = bundle
        return LoadedModel(version=version, bundle=bundle, schema=version.schema)
