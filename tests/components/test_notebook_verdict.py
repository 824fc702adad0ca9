"""A notebook run's verdict in sentences, from summaries shaped as each notebook prints them."""
from __future__ import annotations

from components.notebook_verdict import verdict_sentences

BASE = {"model": "tcga-mirna-type", "version": 2, "sha256": "ab" * 32, "data_checksum": "sha256:" + "cd" * 32}
METRICS = {"accuracy": 0.9712, "balanced_accuracy": 0.9656, "macro_f1": 0.96321, "log_loss": 0.1}


def test_model_evaluation_says_whether_the_metrics_reproduced():
    summary = {**BASE, "metrics_match": True, "importance_match": True, "metrics": METRICS, "held_out_samples": 442,
               "seed": 7}
    assert verdict_sentences("model_evaluation", summary) == [
        "The stored metrics of tcga-mirna-type v2 were reproduced: every value matched on 442 held-out samples "
        "(seed 7).",
        "Its global feature importance was reproduced too.",
        "Held-out accuracy 97.1%, balanced accuracy 96.6%, macro F1 0.963."]
    failed = verdict_sentences("model_evaluation", {**summary, "metrics_match": False, "importance_match": False})
    assert "were NOT reproduced" in failed[0] and "NOT reproduced" in failed[1]


def test_cohort_report_says_what_the_cohort_held():
    summary = {**BASE, "samples": 50, "class_counts": {"BRCA": 20, "PRAD": 0, "SKCM": 30}, "abstained": 1,
               "out_of_distribution": 0, "label_accuracy": 0.98}
    assert verdict_sentences("cohort_report", summary) == [
        "50 samples predicted with tcga-mirna-type v2.",
        "Most often predicted: SKCM (30), BRCA (20).",
        "1 sample abstained (confidence below the threshold) and 0 samples were out of distribution.",
        "Against the input's true labels, 98.0% of the predictions were right."]
    unlabelled = verdict_sentences("cohort_report", {**summary, "label_accuracy": None,
                                                     "class_counts": {c: 1 for c in "ABCDE"}})
    assert unlabelled[1] == "Most often predicted: A (1), B (1), C (1) and 2 other classes."
    assert unlabelled[-1] == "The input had no true labels to compare with."


def test_drift_report_gives_its_verdict_first():
    summary = {**BASE, "verdict": "some drift", "drifted_features": 3, "features": 298, "samples": 442,
               "reference_samples": 1768, "reference_checksum": "sha256:" + "ef" * 32}
    assert verdict_sentences("drift_report", summary) == [
        "Drift verdict: some drift.",
        "3 of 298 features drift (1.0%) between the 442 samples of the input and the 1,768 training samples of "
        "tcga-mirna-type v2."]


def test_train_model_says_what_it_registered():
    summary = {**BASE, "alias": "staging", "metrics": METRICS, "dataset": "tcga-mirna", "algorithm": "logreg",
               "seed": 7, "cv_folds": 3}
    assert verdict_sentences("train_model", summary) == [
        "tcga-mirna-type v2 was trained on tcga-mirna (logreg, seed 7, 3-fold cross-validation) and registered "
        "with the alias staging; production did not move.",
        "Held-out accuracy 97.1%, balanced accuracy 96.6%, macro F1 0.963."]


def test_no_summary_no_verdict():
    assert verdict_sentences("model_evaluation", {}) == [] == verdict_sentences("drift_report", None)
    assert verdict_sentences("another", BASE) == ["The notebook ran on tcga-mirna-type v2."]
