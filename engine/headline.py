"""The held-out figures every view of a model version leads with, in one list: the notebooks' summary
line, the API's version summaries, the Performance page's comparison, Home and the Models page read it.
Light on purpose (no scikit-learn), since the registry uses it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeadlineMetric:
    key: str
    label: str
    path: tuple[str, ...]  # where engine.metrics.evaluate's dict holds it
    better: str  # "higher" or "lower"

    def read(self, metrics: dict) -> float | None:
        value = metrics
        for step in self.path:
            value = value.get(step) if isinstance(value, dict) else None
        return None if value is None else float(value)


HEADLINE_METRICS: tuple[HeadlineMetric, ...] = (
    HeadlineMetric("accuracy", "Accuracy", ("accuracy",), "higher"),
    HeadlineMetric("balanced_accuracy", "Balanced accuracy", ("balanced_accuracy",), "higher"),
    HeadlineMetric("macro_f1", "Macro F1", ("macro_f1",), "higher"),
    HeadlineMetric("top_3_accuracy", "Top-3 accuracy", ("top_3_accuracy",), "higher"),
    HeadlineMetric("log_loss", "Log loss", ("log_loss",), "lower"),
    HeadlineMetric("roc_auc_macro", "ROC AUC (macro)", ("roc_auc_macro",), "higher"),
    HeadlineMetric("expected_calibration_error", "Expected calibration error",
                   ("calibration", "expected_calibration_error"), "lower"),
    HeadlineMetric("brier_score", "Brier score", ("calibration", "brier_score"), "lower"),
    HeadlineMetric("coverage", "Coverage at the abstain threshold", ("selective", "coverage"), "higher"),
    HeadlineMetric("accuracy_on_covered", "Accuracy on covered samples", ("selective", "accuracy_on_covered"),
                   "higher"),
)


def headline(metrics: dict) -> dict[str, float | None]:
    """Every headline metric by key; None where it does not apply (top-3 accuracy needs more than three
    classes, accuracy on the covered samples needs one covered sample)."""
    return {metric.key: metric.read(metrics) for metric in HEADLINE_METRICS}
