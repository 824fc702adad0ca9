"""Evaluation of a classifier's calibrated probabilities on labelled samples. Every figure the portal
shows about a model version comes from `evaluate`, computed at training time on the held-out split."""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

CALIBRATION_BINS = 10
CURVE_POINTS = 101  # points kept per ROC / PR / coverage curve, enough to draw, small to store


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """Keep at most CURVE_POINTS evenly spaced points of curves that share an x axis."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, CURVE_POINTS)).round().astype(int))
    return [np.round(a[keep], 6).tolist() for a in arrays]


def confidence_and_margin(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top2 = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.hstack([np.zeros_like(proba), proba])
    return top2[:, 1], top2[:, 1] - top2[:, 0]


def entropy(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba, 1e-15, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def accuracy_coverage_curve(correct: np.ndarray, confidence: np.ndarray) -> dict:
    """Accuracy on the samples whose confidence is at least t, and their share (coverage), for every t."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    kept = np.arange(1, len(order) + 1)
    coverage, accuracy, threshold = _thin(kept / len(order), hits / kept, confidence[order])
    return {"coverage": coverage, "accuracy": accuracy, "threshold": threshold}


def accuracy_at_confidence(curve: dict, confidence: float) -> tuple[float | None, float | None]:
    """From a stored accuracy-coverage curve: the held-out accuracy on the samples at least as confident
    as `confidence`, and their share; (None, None) when no held-out sample was that confident."""
    thresholds = np.asarray(curve["threshold"], dtype=float)
    kept = np.flatnonzero(thresholds >= confidence)
    if len(kept) == 0:
        return None, None
    i = kept[-1]  # the curve runs from the most confident down: the last point at or above it keeps most
    return float(curve["accuracy"][i]), float(curve["coverage"][i])


def choose_abstain_threshold(correct: np.ndarray, confidence: np.ndarray, target_accuracy: float,
                             min_samples: int = 10) -> dict:
    """The lowest confidence t at which accuracy on samples with confidence >= t reaches the target.

    Computed on out-of-fold (validation) predictions. If no t reaches the target with at least
    `min_samples` samples kept, the t with the best accuracy over `min_samples` or more is used and
    `target_reached` is False, so the portal can say so."""
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    # Only cut between distinct confidence values: ties fall on one side together.
    boundary = np.append(conf_sorted[1:] < conf_sorted[:-1], True)
    candidates = np.flatnonzero(boundary & (np.arange(len(order)) + 1 >= min_samples))
    reaching = candidates[accuracy[candidates] >= target_accuracy]
    reached = len(reaching) > 0
    i = reaching.max() if reached else candidates[np.argmax(accuracy[candidates])]
    return {
        "threshold": float(conf_sorted[i]),
        "target_accuracy": target_accuracy,
        "target_reached": bool(reached),
        "validation_coverage": float((i + 1) / len(order)),
        "validation_accuracy": float(accuracy[i]),
    }


def calibration_summary(y_true_idx: np.ndarray, proba: np.ndarray) -> dict:
    """Reliability of the top-class probability: binned curve, expected calibration error and the
    multiclass Brier score."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true_idx
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    curve, ece = [], 0.0
    for b in range(CALIBRATION_BINS):
        in_bin = bins == b
        if not in_bin.any():
            continue
        mean_conf, acc = float(confidence[in_bin].mean()), float(correct[in_bin].mean())
        ece += in_bin.mean() * abs(acc - mean_conf)
        curve.append({"bin_low": float(edges[b]), "bin_high": float(edges[b + 1]),
                      "mean_confidence": round(mean_conf, 6), "accuracy": round(acc, 6),
                      "count": int(in_bin.sum())})
    onehot = np.eye(proba.shape[1])[y_true_idx]
    brier = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    return {"curve": curve, "expected_calibration_error": round(float(ece), 6), "brier_score": round(brier, 6)}


def _one_vs_rest_curves(y_true_idx: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict:
    onehot = label_binarize(y_true_idx, classes=np.arange(len(classes)))
    if len(classes) == 2:
        onehot = np.hstack([1 - onehot, onehot])
    roc, pr = {}, {}
    for k, name in enumerate(classes):
        if onehot[:, k].sum() == 0:  # a class absent from the split has no curve
            continue
        fpr, tpr, _ = skm.roc_curve(onehot[:, k], proba[:, k])
        precision, recall, _ = skm.precision_recall_curve(onehot[:, k], proba[:, k])
        fpr_t, tpr_t = _thin(fpr, tpr)
        recall_t, precision_t = _thin(recall[::-1], precision[::-1])
        roc[name] = {"fpr": fpr_t, "tpr": tpr_t, "auc": round(float(skm.auc(fpr, tpr)), 6)}
        pr[name] = {"recall": recall_t, "precision": precision_t,
                    "average_precision": round(float(skm.average_precision_score(onehot[:, k], proba[:, k])), 6)}
    return {"roc": roc, "precision_recall": pr}


def evaluate(y_true: np.ndarray, proba: np.ndarray, classes: list[str], abstain_threshold: float) -> dict:
    """All held-out metrics of one model version, as plain JSON-ready values."""
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[c] for c in y_true])
    predicted = proba.argmax(axis=1)
    correct = predicted == y_idx
    confidence, _ = confidence_and_margin(proba)
    labels = np.arange(len(classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_idx, predicted, labels=labels, zero_division=0)
    covered = confidence >= abstain_threshold
    curves = _one_vs_rest_curves(y_idx, proba, classes)
    return {
        "n_samples": int(len(y_idx)),
        "accuracy": round(float(correct.mean()), 6),
        "balanced_accuracy": round(float(skm.balanced_accuracy_score(y_idx, predicted)), 6),
        "macro_f1": round(float(skm.f1_score(y_idx, predicted, labels=labels, average="macro", zero_division=0)), 6),
        # with three classes or fewer, top-3 accuracy is 1 by construction: not reported
        "top_3_accuracy": (round(float(skm.top_k_accuracy_score(y_idx, proba, k=3, labels=labels)), 6)
                           if len(classes) > 3 else None),
        "log_loss": round(float(skm.log_loss(y_idx, proba, labels=labels)), 6),
        "per_class": {
            name: {"precision": round(float(precision[k]), 6), "recall": round(float(recall[k]), 6),
                   "f1": round(float(f1[k]), 6), "support": int(support[k])}
            for k, name in enumerate(classes)
        },
        "confusion_matrix": {"labels": list(classes),
                             "counts": skm.confusion_matrix(y_idx, predicted, labels=labels).tolist()},
        "roc": curves["roc"],
        "roc_auc_macro": round(float(np.mean([c["auc"] for c in curves["roc"].values()])), 6),
        "precision_recall": curves["precision_recall"],
        "calibration": calibration_summary(y_idx, proba),
        "accuracy_coverage": accuracy_coverage_curve(correct, confidence),
        "selective": {
            "abstain_threshold": abstain_threshold,
            "coverage": round(float(covered.mean()), 6),
            "accuracy_on_covered": round(float(correct[covered].mean()), 6) if covered.any() else None,
        },
    }


def label_agreement(y_true: list[str], predicted: list[str], classes: list[str]) -> dict:
    """How a user's own labels for uploaded samples agree with the model's predictions.

    Labels are compared after stripping surrounding spaces. A label that is missing (empty, None, NaN)
    or not one of `classes` is unknown: counted in `n_unknown_labels` and left out of everything else
    (`unknown_labels` lists up to 20 of the distinct unknown texts, not the missing ones). `n` is the
    number of samples compared, those with a known label. Balanced accuracy is the mean recall over the
    classes present among the known labels; a class without labelled samples has a recall of None.
    Confusion matrix rows are the uploaded labels, columns the predictions, both in `classes` order.
    With no known label, accuracy and balanced accuracy are None."""
    def text(label) -> str | None:
        try:
            if label is None or label != label:  # NaN is not equal to itself
                return None
        except (TypeError, ValueError):  # pandas.NA has no truth value
            return None
        return str(label).strip() or None

    if len(y_true) != len(predicted):
        raise ValueError(f"{len(y_true)} labels for {len(predicted)} predictions")
    index = {str(c): k for k, c in enumerate(classes)}
    stray = sorted({str(p) for p in predicted} - set(index))
    if stray:
        raise ValueError(f"predicted classes not among the model's classes: {', '.join(stray[:5])}")
    labels = [text(label) for label in y_true]
    known = [i for i, label in enumerate(labels) if label in index]
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for i in known:
        counts[index[labels[i]], index[str(predicted[i])]] += 1
    support = counts.sum(axis=1)
    recall = {str(c): (float(counts[k, k] / support[k]) if support[k] else None) for k, c in enumerate(classes)}
    present = [r for r in recall.values() if r is not None]
    return {
        "n": len(known),
        "n_unknown_labels": len(labels) - len(known),
        "unknown_labels": sorted({label for label in labels if label is not None and label not in index})[:20],
        "accuracy": float(np.trace(counts) / len(known)) if known else None,
        "balanced_accuracy": float(np.mean(present)) if present else None,
        "per_class_recall": recall,
        "confusion_matrix": {"labels": [str(c) for c in classes], "counts": counts.tolist()},
    }
