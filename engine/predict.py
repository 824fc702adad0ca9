"""Prediction: calibrated probabilities and the flags that say how far to trust each one."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import metrics
from engine.registry import LoadedModel


@dataclass
class PredictionResult:
    """Per sample: predicted class, calibrated probabilities, confidence (top probability), top-2
    margin, entropy, an abstain flag (confidence below the version's threshold) and an
    out-of-distribution flag with its score and the rule that raised it: `far_from_training` (the
    score above the detector's threshold) and `outside_range` (too many values outside the training
    range; all False when the caller gave no counts)."""

    ids: list[str]
    classes: list[str]
    probabilities: np.ndarray  # (samples, classes)
    predicted: list[str]
    confidence: np.ndarray
    margin: np.ndarray
    entropy: np.ndarray
    abstain: np.ndarray
    ood_score: np.ndarray
    out_of_distribution: np.ndarray
    far_from_training: np.ndarray
    outside_range: np.ndarray
    model: str
    version: int
    sha256: str

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({
            "sample_id": self.ids, "predicted_class": self.predicted, "confidence": self.confidence,
            "margin": self.margin, "entropy": self.entropy, "abstain": self.abstain,
            "ood_score": self.ood_score, "out_of_distribution": self.out_of_distribution,
        })
        probabilities = pd.DataFrame(self.probabilities, columns=[f"p_{c}" for c in self.classes])
        return pd.concat([frame, probabilities], axis=1)

    def records(self) -> list[dict]:
        """One plain dict per sample (for JSON)."""
        return [
            {"id": self.ids[i], "class": self.predicted[i],
             "probabilities": {c: float(p) for c, p in zip(self.classes, self.probabilities[i])},
             "confidence": float(self.confidence[i]), "margin": float(self.margin[i]),
             "entropy": float(self.entropy[i]), "abstain": bool(self.abstain[i]),
             "ood_score": float(self.ood_score[i]), "out_of_distribution": bool(self.out_of_distribution[i])}
            for i in range(len(self.ids))
        ]


def predict(model: LoadedModel, X: np.ndarray, ids: list[str],
            out_of_range: np.ndarray | None = None) -> PredictionResult:
    """X: float rows in the schema's order (NaN where missing), as validation returns them."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(model.schema.features):
        raise ValueError(f"expected {len(model.schema.features)} features per sample, got shape {X.shape}")
    bundle = model.bundle
    proba = bundle.predict_proba(X)
    confidence, margin = metrics.confidence_and_margin(proba)
    ood_score = bundle.ood.score(X)
    far, outside = bundle.ood.rules(ood_score, out_of_range, X.shape[1])
    return PredictionResult(
        ids=[str(i) for i in ids], classes=list(bundle.classes), probabilities=proba,
        predicted=[bundle.classes[k] for k in proba.argmax(axis=1)],
        confidence=confidence, margin=margin, entropy=metrics.entropy(proba),
        abstain=confidence < model.version.abstain_threshold,
        ood_score=ood_score,
        out_of_distribution=far | outside, far_from_training=far, outside_range=outside,
        model=model.version.name, version=model.version.version, sha256=model.version.sha256,
    )
