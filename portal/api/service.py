"""The API's request path: resolve the model version, turn JSON samples into one float matrix in schema
order (feature names checked once per request body, values checked vectorised), answer cached samples
from the result cache, predict and explain the rest."""
from __future__ import annotations

import operator
from collections import Counter
import numpy as np

from engine.explain import explain
from engine.predict import predict
from engine.registry import LoadedModel, Registry, RegistryError
from engine.schema import FeatureSchema
from portal.api.cache import ResultCache, cache_key
from portal.api.errors import ApiError
from portal.api.schemas import Sample

MAX_DETAILS = 50


def load_model(registry: Registry, name: str, version: str | None) -> LoadedModel:
    ref = name if not version else (f"{name}:{version}" if version.isdigit() else f"{name}@{version}")
    try:
        return registry.load(ref)
    except RegistryError as error:
        raise ApiError(404, str(error)) from None


_schema_arrays_by_id: dict[int, tuple] = {}


def _schema_arrays(schema: FeatureSchema) -> tuple:
    """(names, a getter of a feature dict's values in schema order, name set, binary mask, training
    minima, maxima), built once per schema object. Keyed by identity: hashing a schema hashes all its
    features (about 1 ms for 678) on every request. The registry hands out one schema object per
    version, and the entry holds it so its id is never reused."""
    entry = _schema_arrays_by_id.get(id(schema))
    if entry is None or entry[0] is not schema:
        lo, hi = schema.bounds()
        if len(_schema_arrays_by_id) >= 16:
            _schema_arrays_by_id.clear()
        names = schema.names
        getter = operator.itemgetter(*names)  # one C call for all values; a scalar when there is one name
        values_of = getter if len(names) > 1 else (lambda features: (getter(features),))
        entry = (schema, names, values_of, frozenset(names), schema.binary_mask(), lo, hi)
        _schema_arrays_by_id[id(schema)] = entry
    return entry[1:]


def samples_to_matrix(samples: list[Sample], schema: FeatureSchema) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(X, ids, out-of-range counts); every problem becomes a 422 detail naming sample and feature."""
    names, values_of, expected, binary, lo, hi = _schema_arrays(schema)
    details: list[dict] = []
    ids = [s.id for s in samples]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    details += [{"sample": d, "feature": None, "problem": "duplicate sample id"} for d in dupes]
    checked_keys = None
    for sample in samples:
        keys = sample.features.keys()
        if checked_keys is not None and keys == checked_keys:
            continue  # the usual case: every sample names the same features
        missing, unknown = expected - keys, keys - expected
        details += [{"sample": sample.id, "feature": f, "problem": "missing: every feature of the model is needed"}
                    for f in sorted(missing)[:MAX_DETAILS]]
        details += [{"sample": sample.id, "feature": f, "problem": "not a feature of this model"}
                    for f in sorted(unknown)[:MAX_DETAILS]]
        if not missing and not unknown:
            checked_keys = keys
    if details:
        raise ApiError(422, "Some samples do not match the model's features.", details[:MAX_DETAILS])
    X = np.array([values_of(s.features) for s in samples], dtype=float)  # None becomes NaN
    present = ~np.isnan(X)
    bad = present & ~np.isfinite(X)
    bad |= present & binary[None, :] & (X != 0) & (X != 1)
    if bad.any():
        rows, cols = np.nonzero(bad)
        details = [{"sample": ids[r], "feature": names[c],
                    "problem": "must be 0 or 1" if binary[c] else "must be a finite number"}
                   for r, c in zip(rows[:MAX_DETAILS], cols[:MAX_DETAILS])]
        raise ApiError(422, "Some feature values are not valid.", details)
    with np.errstate(invalid="ignore"):
        out_of_range = ((X < lo) | (X > hi)).sum(axis=1)
    return X, ids, out_of_range


def predict_samples(model: LoadedModel, samples: list[Sample], cache: ResultCache, explain_top: int | None):
    """Per-sample prediction dicts in request order, and how many came from the cache."""
    X, ids, out_of_range = samples_to_matrix(samples, model.schema)
    options = f"explain={explain_top}"
    keys = [cache_key(model.version.sha256, options, X[i]) for i in range(len(ids))]
    answers = cache.get_many(keys)
    todo = [i for i, a in enumerate(answers) if a is None]
    if todo:
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


def explain_sample(model: LoadedModel, sample: Sample, class_name: str | None, top_k: int) -> dict:
    X, ids, _ = samples_to_matrix([sample], model.schema)
    if class_name is not None and class_name not in model.bundle.classes:
        raise ApiError(422, f"unknown class {class_name!r}", [{"sample": sample.id, "feature": None,
                                                              "problem": f"classes: {', '.join(model.bundle.classes)}"}])
    (explanation,) = explain(model.bundle, model.schema, X, ids, class_name=class_name, top_k=top_k)
    return explanation.to_dict()
