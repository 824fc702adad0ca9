"""Engine speed on this machine, for each production model (tissue-of-origin, tcga-mirna-type and the
multi-omics brca-subtype): prints figures, asserts nothing.

    python bench/engine_bench.py            (or: make bench)

Samples are the model's real held-out samples; the 10,000-sample batch repeats them in order.
Targets (issue 2): one-sample prediction under 5 ms, 10,000 samples under 2 s, one sample's top-20
explanation under 20 ms. Each figure is the median of several runs after one warm-up run.
"""
from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import median_ms  # noqa: E402

from engine import datasets  # noqa: E402
from engine.explain import explain  # noqa: E402
from engine.predict import predict  # noqa: E402
from engine.registry import PRODUCTION_ALIAS, Registry  # noqa: E402
from engine.validation import validate  # noqa: E402


def bench_model(registry: Registry, name: str) -> None:
    model = registry.load(f"{name}@{PRODUCTION_ALIAS}")
    dataset = datasets.load(model.version.dataset_id)
    ids = model.version.test_ids
    held_out = dataset.X.loc[ids].to_numpy(float)
    batch = np.resize(held_out, (10_000, held_out.shape[1]))
    batch_ids = [f"{ids[i % len(ids)]}#{i}" for i in range(10_000)]
    frame = dataset.X.loc[ids].reset_index()

    one = median_ms(lambda: predict(model, held_out[:1], ids[:1]), repeat=200)
    many = median_ms(lambda: predict(model, batch, batch_ids), repeat=5)
    validate_ms = median_ms(lambda: validate(frame, model.schema), repeat=5)
    why = median_ms(lambda: explain(model.bundle, model.schema, held_out[:1], ids[:1], top_k=20), repeat=50)
    print(f"{model.version.ref} ({model.version.algorithm}, {held_out.shape[1]} features, {len(model.bundle.classes)} classes)")
    print(f"  one-sample prediction     {one:8.2f} ms   (target < 5 ms)")
    print(f"  10,000-sample prediction  {many:8.1f} ms   (target < 2000 ms)")
    print(f"  one-sample top-20 SHAP    {why:8.2f} ms   (target < 20 ms)")
    print(f"  validate {len(ids)} held-out rows {validate_ms:6.1f} ms")


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    registry = Registry()
    names = registry.models()
    if not names:
        sys.exit("no models: run `make run` (or `python -m engine bootstrap`) first")
    for name in names:
        bench_model(registry, name)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process, all {len(names)} models loaded): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
