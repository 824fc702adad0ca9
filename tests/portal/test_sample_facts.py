"""The facts a report states of one sample, from a real held-out TCGA sample of the session's miRNA model."""
from __future__ import annotations

import numpy as np
import pytest

from portal.reports import sample_facts


def test_the_facts_of_one_held_out_sample(registry, tcga):
    model = registry.load("tcga-mirna-type@production")
    sample = model.version.test_ids[0]
    X = tcga.X.loc[[sample], model.schema.names].to_numpy(float)
    facts = sample_facts.from_input(model, X, sample, 0, author="command line", true_label=str(tcga.y[sample]))
    assert facts.predicted == facts.classes[int(np.argmax(facts.probabilities))]
    assert sum(facts.probabilities) == pytest.approx(1.0) and facts.confidence == max(facts.probabilities)
    assert facts.explanation.class_name == facts.predicted and len(facts.explanation.top) == sample_facts.TOP
    held_out = model.version.metrics["per_class"][facts.predicted]
    assert facts.class_figures.recall == held_out["recall"] and facts.class_figures.support == held_out["support"]
    assert 0 < facts.class_figures.coverage_at_confidence <= 1
    assert facts.run_id is None and not facts.pseudonymous_id and facts.generated_at.tzinfo is not None
