"""The practical limit on this machine: a bare Flask prediction endpoint, for bench/api_bench.py.

    BENCH_MODEL=tissue-of-origin .venv/bin/gunicorn -c deploy/gunicorn.conf.py bench.bare_endpoint:app

`POST /predict` takes the API's body shape, `{"samples": [{"id": "s1", "features": {"NAME": value, ...}}]}`,
and answers each sample's class and calibrated probabilities from the same model version the portal
serves (`BENCH_MODEL`: `name`, `name@alias` or `name:version`; default the production version of
tissue-of-origin). Nothing else: no authentication, no rate limit, no validation (a missing feature
becomes NaN, a wrong value is the caller's problem), no result cache, no out-of-distribution score, no
audit. What the REST API spends beyond this endpoint is the price of those.

The model is loaded when a worker imports this module (once per worker, not per request), and each
row is built as a numpy array in schema order, never as a DataFrame (../shared/STACK_NOTES.md).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from flask import Flask, jsonify, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.registry import Registry  # noqa: E402

MODEL = Registry().load(os.environ.get("BENCH_MODEL", "tissue-of-origin"))
NAMES = MODEL.schema.names
CLASSES = list(MODEL.bundle.classes)

app = Flask("bare_endpoint")


@app.post("/predict")
def predict():
    samples = request.get_json(force=True)["samples"]
    X = np.array([[s["features"].get(n) for n in NAMES] for s in samples], dtype=float)  # None -> NaN
    proba = MODEL.bundle.predict_proba(X)
    return jsonify(predictions=[
        {"id": s["id"], "class": CLASSES[int(p.argmax())],
         "probabilities": {c: float(v) for c, v in zip(CLASSES, p)}}
        for s, p in zip(samples, proba)
    ], model=MODEL.version.name, version=MODEL.version.version)


@app.get("/health")
def health():
    return jsonify(status="ok", model=MODEL.version.ref)
