"""Plain words for one prediction: how confident it is and whether the sample looks like the training
data. Pure functions: numbers in, sentences out."""
from __future__ import annotations

from engine.ood import QUANTILE


def confidence_words(class_name: str, probability: float, threshold: float, target_accuracy: float) -> str:
    if probability < threshold:
        return (f"Low confidence. The model's best guess is {class_name} with a calibrated probability of "
                f"{probability:.2f}, below the abstain threshold of {threshold:.2f}. That threshold was chosen so "
                f"that predictions above it were right about {target_accuracy:.0%} of the time on validation "
                "samples; below it, treat the result as no prediction.")
    level = "very high" if probability >= 0.95 else "high" if probability >= 0.8 else "moderate"
    return (f"The model predicts {class_name} with a calibrated probability of {probability:.2f} ({level} "
            f"confidence), above the abstain threshold of {threshold:.2f}: among validation samples this "
            f"confident, about {target_accuracy:.0%} or more were right.")


def _values(n: int, n_features: int) -> str:
    return f"{n:,} of its {n_features:,} values lie" if n != 1 else f"1 of its {n_features:,} values lies"


def distribution_words(far_from_training: bool, outside_range: bool, out_of_range: int, n_features: int) -> str:
    """Whether the sample looks like the training data, which of the two rules flagged it (engine.ood:
    far from the training samples, or too many values outside the training range) and what that means
    for trusting the call. Never the raw distance score: it has no unit a reader could weigh."""
    typical = round(100 * QUANTILE)
    far = (f"it lies farther from the training samples than {typical} in 100 training samples lie from "
           "their nearest neighbours")
    if far_from_training and outside_range:
        return (f"Warning: this sample is unlike the training samples on both counts: {far}, and "
                f"{_values(out_of_range, n_features)} outside the range seen in training. The model has not "
                "seen samples like this one; do not rely on the prediction, whatever its probability, "
                "without confirming it another way.")
    if far_from_training:
        within = ("all its values lie within the ranges seen in training" if out_of_range == 0 else
                  f"only {_values(out_of_range, n_features)} outside the range seen in training")
        return (f"Warning: {far}, although {within}. The model has seen few samples like it, so the "
                "prediction may not hold, whatever its probability; confirm it another way.")
    if outside_range:
        return (f"Warning: {_values(out_of_range, n_features)} outside the range seen in training, more "
                "than the model tolerates, although as a whole the sample lies close to the training samples. "
                "What the model makes of values it never saw is a guess, so the prediction may not hold, "
                "whatever its probability; check those values and confirm the call another way.")
    values = ("all its values lie within the ranges seen in training" if out_of_range == 0 else
              f"only {_values(out_of_range, n_features)} outside the range seen in training, too few to matter")
    return (f"The sample resembles the training samples: it lies as close to them as they do to each other, "
            f"and {values}. Nothing here argues against the call.")


def group_words(group_sums: dict, class_name: str) -> str:
    """Where the call came from, one feature group (an omics block) at a time, largest effect first: the
    summed SHAP values toward `class_name` and each group's share of their absolute total."""
    items = sorted(((str(g), float(v)) for g, v in (group_sums or {}).items()), key=lambda kv: (-abs(kv[1]), kv[0]))
    if len(items) < 2:
        return ""
    total = sum(abs(v) for _, v in items)
    parts = [f"{group} {v:+.3g} ({abs(v) / total:.0%})" if total else f"{group} {v:+.3g}" for group, v in items]
    return (f"How much of this call for {class_name} came from each feature group (summed SHAP values; "
            f"positive pushes toward {class_name}, the share is of the absolute total): {'; '.join(parts)}. "
            "The features that weighed most follow.")
