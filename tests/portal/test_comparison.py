"""Two runs side by side (portal.predictions.comparison): the pure functions on small made-up results
frames, and compare_runs on real runs of held-out TCGA samples (who may compare what, on SQLite and
PostgreSQL), and the figure of the two runs' class counts."""
from __future__ import annotations

import pandas as pd
import pytest

from components.comparison_figures import class_counts_comparison_figure
from portal.predictions import comparison, runs, sharing
from tests.helpers import email_of, finished_run
from tests.helpers import user_of as user


def _frame(rows) -> pd.DataFrame:
    """A results frame as runs.results returns it, from (sample, class, confidence, abstain, ood) tuples."""
    return pd.DataFrame(rows, columns=["sample_id", "predicted_class", "confidence", "abstain", "out_of_distribution"])


# Made-up fixtures: five samples in A, four in B, three of them shared ("s/2#x" has a slash and a hash).
A = _frame([("s1", "BRCA", 0.9, False, False), ("s/2#x", "PRAD", 0.6, True, False), ("s3", "BRCA", 0.8, False, True),
            ("s4", "SKCM", 0.7, False, False), ("a-only", "BRCA", 0.95, False, False)])
B = _frame([("s1", "BRCA", 0.85, False, False), ("s/2#x", "SKCM", 0.55, True, False), ("s3", "PRAD", 0.5, True, False),
            ("b-only", "LUAD", 0.99, False, False)])


def test_class_counts_most_frequent_first():
    assert comparison.class_counts(A) == {"BRCA": 3, "PRAD": 1, "SKCM": 1}
    assert list(comparison.class_counts(B)) == ["BRCA", "LUAD", "PRAD", "SKCM"]  # ties by name


def test_confidence_summary_quartiles_and_flags():
    summary = comparison.confidence_summary(A)
    assert (summary.n, summary.abstained, summary.out_of_distribution) == (5, 1, 1)
    assert summary.median == pytest.approx(0.8)
    assert (summary.q1, summary.q3) == (pytest.approx(0.7), pytest.approx(0.9))
    assert summary.abstained_share == pytest.approx(0.2)
    empty = comparison.confidence_summary(A.iloc[0:0])
    assert (empty.n, empty.median, empty.abstained_share) == (0, None, None)


def test_agreement_on_shared_samples_by_id():
    agreement = comparison.agreement(A, B)
    assert (agreement.shared, agreement.only_a, agreement.only_b, agreement.same) == (3, 2, 1, 1)
    assert agreement.fraction == pytest.approx(1 / 3)
    assert [(d["sample_id"], d["class_a"], d["class_b"]) for d in agreement.disagreements] == \
        [("s/2#x", "PRAD", "SKCM"), ("s3", "BRCA", "PRAD")]  # by sample id
    assert agreement.disagreements[1]["confidence_a"] == pytest.approx(0.8)
    none = comparison.agreement(A.iloc[:1], B.iloc[3:])
    assert (none.shared, none.fraction, none.disagreements) == (0, None, [])
    same = comparison.agreement(A, A)
    assert (same.shared, same.same, same.fraction) == (5, 5, 1.0)


def test_sample_ids_match_as_text():
    numbers = _frame([(1, "BRCA", 0.9, False, False), (2, "PRAD", 0.8, False, False)])
    text = _frame([("1", "BRCA", 0.7, False, False), ("2", "BRCA", 0.6, False, False)])
    agreement = comparison.agreement(numbers, text)
    assert (agreement.shared, agreement.same) == (2, 1)


def test_compare_lists_every_class_of_both_models_with_zeros():
    compared = comparison.compare(A, B, classes_a=["BRCA", "PRAD", "SKCM"], classes_b=["BRCA", "LUAD", "PRAD", "OV"])
    assert compared.classes == ["BRCA", "PRAD", "SKCM", "LUAD", "OV"]
    assert compared.counts_a == {"BRCA": 3, "PRAD": 1, "SKCM": 1, "LUAD": 0, "OV": 0}
    assert compared.counts_b == {"BRCA": 1, "PRAD": 1, "SKCM": 1, "LUAD": 1, "OV": 0}
    assert comparison.compare(A, B).classes == ["BRCA", "PRAD", "SKCM", "LUAD"]  # without the models' classes
    assert compared.agreement.same == 1 and compared.confidence_b.abstained == 2


def test_the_figure_groups_the_two_runs_and_keeps_the_legend_below():
    compared = comparison.compare(A, B, classes_b=["BRCA", "LUAD", "PRAD", "SKCM", "OV"])
    fig = class_counts_comparison_figure(compared.classes, compared.counts_a, compared.counts_b, "Run A", "Run B")
    assert [t.name for t in fig.data] == ["Run A", "Run B"] and fig.layout.barmode == "group"
    assert list(fig.data[0].y) == ["BRCA", "LUAD", "PRAD", "SKCM"]  # OV, predicted by neither, is left out
    assert list(fig.data[0].x) == [3, 0, 1, 1] and list(fig.data[1].x) == [1, 1, 1, 1]
    assert "1 other classes predicted by neither run" in fig.layout.title.subtitle.text
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container"
    assert fig.layout.legend.y < 0.1 and fig.layout.margin.b >= 100  # below the plot, clear of the title
    empty = class_counts_comparison_figure(["BRCA"], {}, {}, "Run A", "Run B")
    assert empty.data == () and "Neither run" in empty.layout.annotations[0].text


def _status(call) -> int:
    with pytest.raises(runs.RunError) as error:
        call()
    return error.value.status


def test_compare_runs_reads_only_runs_the_user_may_read(portal, tcga, registry):
    first = finished_run(portal, tcga, registry, n=5)
    second = finished_run(portal, tcga, registry, n=3)  # the first three of the same held-out samples
    researcher, clinician = user(portal, "researcher"), user(portal, "clinician")
    pair = comparison.compare_runs(portal, first.id, second.id, researcher.id, "researcher")
    assert pair.same_model and (pair.run_a.id, pair.run_b.id) == (first.id, second.id)
    agreement = pair.comparison.agreement
    assert (agreement.shared, agreement.only_a, agreement.only_b, agreement.same) == (3, 2, 0, 3)  # same model
    assert sum(pair.comparison.counts_a.values()) == 5 and set(pair.comparison.classes) == {"BRCA", "PRAD", "SKCM"}
    assert _status(lambda: comparison.compare_runs(portal, first.id, second.id, clinician.id, "clinician")) == 403
    sharing.share_with_users(portal, first.id, [email_of("clinician")], researcher.id, "researcher")
    assert _status(lambda: comparison.compare_runs(portal, first.id, second.id, clinician.id, "clinician")) == 403
    sharing.share_with_role(portal, second.id, "clinician", researcher.id, "researcher")
    shared = comparison.compare_runs(portal, second.id, first.id, clinician.id, "clinician")
    assert shared.comparison.agreement.same == 3
    assert comparison.compare_runs(portal, first.id, second.id, user(portal, "admin").id, "admin").run_b.id == second.id
    assert _status(lambda: comparison.compare_runs(portal, first.id, first.id, researcher.id, "researcher")) == 400
    assert _status(lambda: comparison.compare_runs(portal, first.id, "nope", researcher.id, "researcher")) == 404
    assert _status(lambda: comparison.compare_runs(portal, first.id, None, researcher.id, "researcher")) == 400
    queued = runs.queue_run(portal, first.upload_id, researcher.id, "researcher")  # no results yet
    assert _status(lambda: comparison.compare_runs(portal, first.id, queued.id, researcher.id, "researcher")) == 409
