"""The portal's partial plotly.js (portal.plotly_bundle) holds every trace type its figures draw: a
figure with another type would stay blank in the browser. Built from real held-out samples."""
from __future__ import annotations

import numpy as np
import pytest

from components import comparison_figures
from components import prediction_figures as pf
from portal.plotly_bundle import TRACES
from tests.components.held_out import MODELS, every_figure


@pytest.mark.parametrize("name", MODELS)
def test_every_figure_draws_only_trace_types_the_bundle_holds(name, batches):
    batch = batches[name]
    drawn = every_figure(name, batch)
    r, meta = batch.result, batch.model.version.metadata
    many = 3 * pf.MAX_POINTS // len(r.ids) + 1  # the held-out samples repeated: drawn as a density
    drawn["ood, many samples"] = pf.confidence_ood_figure(
        [f"{i}#{k}" for k in range(many) for i in r.ids], list(r.predicted) * many,
        list(np.tile(r.confidence, many)), list(np.tile(r.ood_score, many)),
        meta["out_of_distribution"]["threshold"], meta["abstain"]["threshold"])
    counts = {c: list(r.predicted).count(c) for c in r.classes}
    drawn["comparison"] = comparison_figures.class_counts_comparison_figure(r.classes, counts, counts, "a", "b")
    types = {what: {t.type for t in fig.data} for what, fig in drawn.items()}
    assert {what: t - set(TRACES) for what, t in types.items() if t - set(TRACES)} == {}
    assert "heatmap" in types["ood, many samples"]
