"""The similar reference samples' map and table, and the what-if comparison figure, drawn from each default
model's real held-out samples and their real nearest training samples (no browser)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from components.neighbour_figures import neighbour_traces, neighbours_projection_figure
from components.neighbour_table import neighbours_table, sharing_words
from components.whatif_figures import whatif_probabilities_figure
from engine import projection
from engine.feature_labels import feature_label
from engine.neighbours import ReferenceSamples


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False)


def test_the_map_rings_the_neighbours_and_draws_the_sample_on_top(batch):
    found = ReferenceSamples(batch.model).nearest(batch.X[0], 10, batch.result.predicted[0])
    proj = projection.projection_for(batch.model)
    rows = [proj.training_ids.index(n.id) for n in found.neighbours]
    fig = neighbours_projection_figure(proj.training_coordinates, proj.training_labels, proj.transform(batch.X[:1]),
                                       batch.ids[0], found.predicted, proj.training_coordinates[rows],
                                       [n.id for n in found.neighbours], [n.label for n in found.neighbours],
                                       proj.explained_variance_ratio)
    assert "NaN" not in fig.to_json()
    (ring,) = neighbour_traces(fig)
    assert np.allclose(np.column_stack([ring.x, ring.y]), proj.training_coordinates[rows])
    assert [c[0] for c in ring.customdata] == [n.id for n in found.neighbours]
    assert fig.data[-1].name == f"{found.predicted} (uploaded)" and list(fig.data[-1].customdata) == [batch.ids[0]]
    assert fig.layout.title.text == f"Sample {batch.ids[0]} and its 10 most similar training samples"
    with pytest.raises(ValueError):
        neighbours_projection_figure(proj.training_coordinates, proj.training_labels, proj.transform(batch.X[:1]),
                                     batch.ids[0], found.predicted, proj.training_coordinates[rows], ["one"], ["a"])


def test_the_table_has_a_row_per_neighbour_with_readable_labels(batch):
    found = ReferenceSamples(batch.model).nearest(batch.X[0], 10, batch.result.predicted[0])
    table = neighbours_table(found)
    body = table.children[1].children
    assert len(body) == 10
    text = _text(table)
    for n in found.neighbours:
        assert n.id in text and f"{n.distance:.2f}" in text
        for d in n.differences:
            assert feature_label(d.feature, d.group).label in text
    assert text.count("✓") == found.sharing_predicted
    assert sharing_words(found).startswith(f"{found.sharing_predicted} of its 10 most similar")


def test_the_what_if_figure_sets_the_two_versions_side_by_side():
    fig = whatif_probabilities_figure(["BRCA", "PRAD", "SKCM"], [0.7, 0.2, 0.1], [0.3, 0.6, 0.1])
    stored, changed = fig.data
    assert (stored.name, changed.name) == ("as stored", "what-if")
    assert list(stored.y) == list(changed.y) == ["BRCA", "PRAD", "SKCM"]  # by the larger of the two, then name
    assert list(stored.x) == [0.7, 0.2, 0.1] and list(changed.x) == [0.3, 0.6, 0.1]
    with pytest.raises(ValueError):
        whatif_probabilities_figure(["BRCA"], [1.0], [0.5, 0.5])
