"""The API's request path: resolve the model version, turn JSON samples into one float matrix in schema
order (feature names checked once per request body, values checked vectorised), answer cached samples
from the result cache, predict and explain the rest. Free of Flask: the routes pass in what the portal
keeps (its registry, its caches)."""
from __future__ import annotations

import operator
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.bundle import UnusableValues
from engine.caching import BoundedCache
from engine.explain import explain
from engine.predict import predict
from engine.registry import LoadedModel, Registry, RegistryError
from engine.sample_ids import personal_id_kind
from engine.schema import FeatureSchema
from portal.api.cache import ResultCache, cache_key
from portal.api.errors import ApiError
from portal.api.schemas import Sample

MAX_DETAILS = 50


def load_model(registry: Registry, name: str, version: str | None) -> LoadedModel:
    """The version asked for (a number, an alias, or None for the default); 404 when there is none."""
    try:
        return registry.load(registry.version_of(name, version))
    except RegistryError as error:
        raise ApiError(404, str(error)) from None


@dataclass(frozen=True)
class SchemaArrays:
    """A feature schema as a request body is read against it: the names, a getter of a feature dict's
    values in schema order, the name set, the binary mask and the training minima and maxima."""

    names: list[str]
    values_of: Callable[[dict], tuple]
    expected: frozenset[str]
    binary: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, schema: FeatureSchema) -> "SchemaArrays":
        names = schema.names
        getter = operator.itemgetter(*names)  # one C call for all values; a scalar when there is one name
        values_of = getter if len(names) > 1 else (lambda features: (getter(features),))
        lo, hi = schema.bounds()
        return cls(names, values_of, frozenset(names), schema.binary_mask(), lo, hi)


def schema_arrays(model: LoadedModel, cache: BoundedCache) -> SchemaArrays:
    """The model's SchemaArrays, built once per version and kept in `cache` (the portal's): building them
    walks every feature, about a millisecond for 678, too slow to repeat on each request."""
    version = model.version
    return cache.get_or_create((version.ref, version.sha256), lambda: SchemaArrays.of(model.schema))


def samples_to_matrix(samples: list[Sample], arrays: SchemaArrays) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(X, ids, out-of-range counts); every problem becomes a 422 detail naming sample and feature."""
    ids = [s.id for s in samples]
    details: list[dict] = personal_ids(ids)
    if details:  # before any detail that would quote an id
        raise ApiError(422, "Some sample ids look like personal data.", details)
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    details += [{"sample": d, "feature": None, "problem": "duplicate sample id"} for d in dupes]
    checked_keys = None
    for sample in samples:
        keys = sample.features.keys()
        if checked_keys is not None and keys == checked_keys:
            continue  # the usual case: every sample names the same features
        missing, unknown = arrays.expected - keys, keys - arrays.expected
        details += [{"sample": sample.id, "feature": f, "problem": "missing: every feature of the model is needed"}
                    for f in sorted(missing)[:MAX_DETAILS]]
        details += [{"sample": sample.id, "feature": f, "problem": "not a feature of this model"}
                    for f in sorted(unknown)[:MAX_DETAILS]]
        if not missing and not unknown:
            checked_keys = keys
    if details:
        raise ApiError(422, "Some samples do not match the model's features.", details[:MAX_DETAILS])
    values_of, binary = arrays.values_of, arrays.binary
    X = np.array([values_of(s.features) for s in samples], dtype=float)  # None becomes NaN
    present = ~np.isnan(X)
    bad = present & ~np.isfinite(X)
    bad |= present & binary[None, :] & (X != 0) & (X != 1)
    if bad.any():
        rows, cols = np.nonzero(bad)
        details = [{"sample": ids[r], "feature": arrays.names[c],
                    "problem": "must be 0 or 1" if binary[c] else "must be a finite number"}
                   for r, c in zip(rows[:MAX_DETAILS], cols[:MAX_DETAILS])]
        raise ApiError(422, "Some feature values are not valid.", details)
    with np.errstate(invalid="ignore"):
        out_of_range = ((X < arrays.lo) | (X > arrays.hi)).sum(axis=1)
    return X, ids, out_of_range


def personal_ids(ids: list[str]) -> list[dict]:
    """422 details for ids that look like personal data (engine.sample_ids), naming the sample by its
    position (#0 is the first), never by the id itself."""
    details = []
    for position, sample_id in enumerate(ids):
        kind = personal_id_kind(sample_id)
        if kind is not None:
            details.append({"sample": f"#{position}", "feature": None,
                            "problem": f"the id looks like {kind}, which is personal data: send a de-identified id"})
    return details[:MAX_DETAILS]


@contextmanager
def refused_values(ids: list[str]):
    """Values the model's preprocessing cannot use (engine.bundle.UnusableValues) as a 422 naming the samples."""
    try:
        yield
    except UnusableValues as error:
        raise ApiError(422, "Some samples hold values this model cannot use.", [
            {"sample": ids[r], "feature": None, "problem": "the model's preprocessing cannot use these values "
             "(a negative read count, for example)"} for r in error.rows[:MAX_DETAILS]]) from None


def predict_samples(model: LoadedModel, arrays: SchemaArrays, samples: list[Sample], cache: ResultCache,
                    explain_top: int | None):
    """Per-sample prediction dicts in request order, and how many came from the cache."""
    X, ids, out_of_range = samples_to_matrix(samples, arrays)
    return predict_matrix(model, X, ids, out_of_range, cache, explain_top)


def predict_matrix(model: LoadedModel, X: np.ndarray, ids: list[str], out_of_range: np.ndarray, cache: ResultCache,
                   explain_top: int | None):
    """predict_samples on values already checked (a JSON body's, or files' validated by engine.blocks)."""
    options = f"explain={explain_top}"
    keys = [cache_key(model.version.sha256, options, X[i]) for i in range(len(ids))]
    answers = cache.get_many(keys)
    todo = [i for i, a in enumerate(answers) if a is None]
    if todo:
        with refused_values([ids[i] for i in todo]):
            result = predict(model, X[todo], [ids[i] for i in todo], out_of_range[todo])
            explanations = (explain(model.bundle, model.schema, X[todo], [ids[i] for i in todo], top_k=explain_top)
                            if explain_top else None)
        fresh = {}
        for j, (i, answer) in enumerate(zip(todo, result.records())):
            del answer["id"]  # cached by values, not by id
            if explanations:
                answer["contributions"] = [c.to_dict() for c in explanations[j].top]
            answers[i] = answer
            fresh[keys[i]] = answer
        cache.set_many(fresh)
    return [{"id": ids[i], **answers[i]} for i in range(len(ids))], len(ids) - len(todo)


def explain_sample(model: LoadedModel, arrays: SchemaArrays, sample: Sample, class_name: str | None,
                   top_k: int) -> dict:
    X, ids, _ = samples_to_matrix([sample], arrays)
    if class_name is not None and class_name not in model.bundle.classes:
        raise ApiError(422, f"unknown class {class_name!r}", [{"sample": sample.id, "feature": None,
                                                              "problem": f"classes: {', '.join(model.bundle.classes)}"}])
    with refused_values(ids):
        (explanation,) = explain(model.bundle, model.schema, X, ids, class_name=class_name, top_k=top_k)
    return explanation.to_dict()
