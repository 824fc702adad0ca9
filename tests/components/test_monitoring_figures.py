"""The Monitoring page's figures: the drift figures from engine.drift's real output on real TCGA samples (the
training samples against the real held-out samples, and against a shifted copy of them: their first 40
features multiplied by 3, made up here), with the thresholds drawn; traffic, prediction and job figures from
small inputs written here (made up, marked so). No browser: the figures' data and layout are checked."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from components import monitoring_figures as mf
from engine import drift as engine_drift

MODEL = "tcga-mirna-type"


def serialised(fig) -> dict:
    text = fig.to_json()
    assert "NaN" not in text
    return json.loads(text)


def _rows(frame, top_n=10) -> list[dict]:
    top = engine_drift.most_drifted(frame, top_n)
    return [{"feature": r.feature, "kind": r.kind, "psi": float(r.psi), "p_adjusted": float(r.p_adjusted),
             "drifted": bool(r.drifted)} for r in top.itertuples()]


@pytest.fixture(scope="module")
def drift_frames(tcga, registry):
    version = registry.resolve(MODEL)
    schema = registry.load(version).schema
    test_ids = set(version.test_ids)
    train = tcga.X.loc[~tcga.X.index.isin(test_ids), schema.names].to_numpy(float)
    held_out = tcga.X.loc[list(version.test_ids), schema.names].to_numpy(float)
    shifted = held_out.copy()
    shifted[:, :40] *= 3.0  # made-up shift of real samples
    kinds = [f.kind for f in schema.features]
    return {name: engine_drift.feature_drift(train, values, schema.names, kinds, schema.groups)
            for name, values in (("held_out", held_out), ("shifted", shifted))}


def test_the_drift_figure_marks_drifted_features_and_every_threshold(drift_frames):
    frame = drift_frames["shifted"]
    rows = _rows(frame)
    fig = mf.drift_features_figure(f"{MODEL}:1", engine_drift.verdict(frame), rows)
    data = serialised(fig)
    red = [t for t in data["data"] if t["marker"]["color"] == mf.DRIFTED]
    assert red and len(red[0]["y"]) == sum(r["drifted"] for r in rows)
    psi_bars = next(t for t in red if t["xaxis"] == "x")
    assert min(psi_bars["x"]) >= engine_drift.PSI_MODERATE
    p_bars = next(t for t in red if t["xaxis"] == "x2")
    assert min(p_bars["x"]) > -math.log10(engine_drift.ALPHA)  # -log10 of a p below ALPHA
    lines = {(s["xref"], round(s["x0"], 6)) for s in data["layout"]["shapes"]}
    assert ("x", engine_drift.PSI_MODERATE) in lines and ("x", engine_drift.PSI_MAJOR) in lines
    assert ("x2", round(-math.log10(engine_drift.ALPHA), 6)) in lines
    assert "some drift" in data["layout"]["title"]["subtitle"]["text"]
    assert data["layout"]["yaxis"]["categoryarray"] == [r["feature"] for r in rows]


def test_held_out_samples_show_no_red_bar_beyond_chance(drift_frames):
    frame = drift_frames["held_out"]
    fig = mf.drift_features_figure(f"{MODEL}:1", engine_drift.verdict(frame), _rows(frame))
    red = [t for t in serialised(fig)["data"] if t["marker"]["color"] == mf.DRIFTED]
    assert sum(len(t["y"]) for t in red) <= 2 * 0.05 * len(frame)  # a drifted feature is red in both panels


def test_the_share_figure_draws_the_major_drift_line_and_leaves_out_what_was_not_compared(drift_frames):
    reports = [{"model": f"{MODEL}:1", "share": float(drift_frames["shifted"]["drifted"].mean()),
                "verdict": engine_drift.verdict(drift_frames["shifted"])},
               {"model": "tissue-of-origin:1", "share": None, "verdict": None}]
    data = serialised(mf.drift_share_figure(reports))
    assert data["data"][0]["x"] == [f"{MODEL}:1"] and data["data"][0]["marker"]["color"] == ["#fd8d3c"]
    assert [s["y0"] for s in data["layout"]["shapes"]] == [engine_drift.MAJOR_DRIFT_SHARE]
    empty = serialised(mf.drift_share_figure(reports[1:]))
    assert "no recent uploads" in empty["layout"]["annotations"][-1]["text"]


def test_traffic_leaves_gaps_where_prometheus_has_no_number():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)  # made-up series
    times = [start + timedelta(seconds=15 * i) for i in range(4)]
    data = serialised(mf.traffic_figure("Server errors", "share", [{"name": "all", "times": times,
                                                                     "values": [0.0, None, 0.25, 0.5]}]))
    assert data["data"][0]["y"] == [0.0, None, 0.25, 0.5] and data["layout"]["yaxis"]["tickformat"] == ".1%"
    assert data["layout"]["showlegend"] is False
    quiet = serialised(mf.traffic_figure("Requests per second", "requests/s", []))
    assert quiet["layout"]["annotations"][0]["text"] == "no data in this window"


def test_predictions_stack_per_model_and_class_and_jobs_group_by_state():
    day = datetime(2026, 1, 1, tzinfo=timezone.utc)  # made-up counts
    counts = [{"bucket": day, "model": "m:1", "what": "BRCA", "samples": 3},
              {"bucket": day, "model": "m:1", "what": "PRAD", "samples": 2},
              {"bucket": day + timedelta(days=1), "model": "m:1", "what": "BRCA", "samples": 4},
              {"bucket": day, "model": "m:2", "what": "", "samples": 7}]
    data = serialised(mf.predictions_figure(counts, "t", "s", "day"))
    assert data["layout"]["barmode"] == "stack"
    stacked = {t["name"]: sum(t["y"]) for t in data["data"]}
    assert stacked == {"m:1 · BRCA": 7, "m:1 · PRAD": 2, "m:2": 7}
    jobs = serialised(mf.jobs_figure({"queued": 1, "done": 4}, {"queued": 0, "done": 2}, "s"))
    assert {t["name"]: t["y"] for t in jobs["data"]} == {"queued": [1, 0], "done": [4, 2]}
    assert jobs["data"][0]["x"] == ["prediction runs", "notebook runs"]
    none = serialised(mf.jobs_figure({"done": 0}, {"done": 0}, "s"))
    assert none["layout"]["annotations"][0]["text"] == "no jobs in this window"
    assert np.isclose(sum(stacked.values()), 16)
