"""How often a held-out sample's most similar training samples (engine.neighbours) are of its true class,
for each production model: prints figures, asserts nothing.

    python bench/neighbours_bench.py [K]        (K: neighbours per sample, default 10)

Over all of a model's real held-out samples: the agreement (the mean share of the K that have the sample's
true class; beside it what K training samples drawn at random would give), how many samples have a majority
of their K of their true class, the mean share that have the class the model predicted, and the time one sample's search takes here (median, after reading the training
samples once).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import median_ms  # noqa: E402

from engine import datasets  # noqa: E402
from engine.neighbours import DEFAULT_K, ReferenceSamples, check_k  # noqa: E402
from engine.registry import PRODUCTION_ALIAS, Registry  # noqa: E402


def bench_model(registry: Registry, name: str, k: int) -> None:
    model = registry.load(f"{name}@{PRODUCTION_ALIAS}")
    dataset = datasets.load(model.version.dataset_id)
    ids = model.version.test_ids
    X = dataset.X.loc[ids, model.schema.names].to_numpy(float)
    truth = dataset.y.loc[ids].astype(str).to_numpy()
    predicted = [model.bundle.classes[j] for j in model.bundle.predict_proba(X).argmax(axis=1)]
    started = time.perf_counter()
    references = ReferenceSamples(model)
    read_s = time.perf_counter() - started
    found = [references.nearest(x, k, p) for x, p in zip(X, predicted)]
    true_share = np.array([f.share_of(t) for f, t in zip(found, truth)])
    predicted_share = np.array([f.sharing_predicted / f.k for f in found])
    frequency = {c: float(np.mean(references.labels == c)) for c in set(references.labels)}
    chance = np.mean([frequency.get(t, 0.0) for t in truth])  # K training samples drawn at random
    one = median_ms(lambda: references.nearest(X[0], k, predicted[0]), repeat=50)
    print(f"{model.version.ref} ({len(model.bundle.classes)} classes, {len(references)} training samples, "
          f"{len(ids)} held-out)")
    print(f"  agreement: {true_share.mean():.3f} of the {k} nearest share the sample's true class "
          f"(by chance, K random training samples: {chance:.3f})")
    majority = (true_share > 0.5).mean()
    print(f"  majority:  {majority:.3f} of held-out samples have most of their {k} of their true class")
    print(f"  predicted: {predicted_share.mean():.3f} of the {k} share the predicted class")
    print(f"  one search {one:6.2f} ms; training samples read and placed once in {read_s:.2f} s")


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("k", nargs="?", type=int, default=DEFAULT_K, help="neighbours per sample")
    k = check_k(parser.parse_args().k)
    registry = Registry()
    names = registry.models()
    if not names:
        sys.exit("no models: run `make run` (or `python -m engine bootstrap`) first")
    for name in names:
        bench_model(registry, name, k)


if __name__ == "__main__":
    main()
