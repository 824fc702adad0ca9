"""SHAP explanations of a model version's predictions.

What is explained is the calibrated model's log-odds ("logit") for each class for logistic regression
and histogram gradient boosting: the base estimator's raw scores times the inverse temperature, so that
softmax(base value + sum of contributions) is exactly the calibrated probability. A random forest has
no raw score; its explanation is of the forest's own (uncalibrated) class probability. In each case the
contributions plus the base value equal the explained output (tests hold this).

The explain page states the calibrated probability of the class, so each explanation also carries its
waterfall in those terms (`probability_base`, each contribution's `effect`, `rest_effect` and
`calibration_step`), adding up to `probability` exactly (tests hold this on every default model):
- random forest: the SHAP values are already probabilities (the forest's own); the forest's output is
  then calibrated by temperature scaling, shown as one last step "calibration (temperature scaling)"
  (the calibrated minus the forest's probability), so the bars and the headline are the same number.
- logistic regression, gradient boosting: the SHAP values are calibrated log-odds, which a clinician
  does not read; a last "link" bar from log-odds to a probability would mix two units on one axis.
  Instead the features are added in the waterfall's order (largest first, then all the others) to the
  average log-odds of every class, and each bar is the change in the class's softmax probability that
  this feature makes: an exact, additive path from the probability at the average output to the
  calibrated probability. No separate calibration step remains (the temperature is inside the
  log-odds); `calibration_step` is only the arithmetic's rounding (below 1e-6).

shap is imported lazily: it takes seconds to import and the portal must start fast.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.bundle import ModelBundle
from engine.schema import FeatureSchema

LOGIT_SPACE = "calibrated log-odds (softmax of base value + contributions gives the probability)"
PROBABILITY_SPACE = "probability of the uncalibrated random forest"
CALIBRATION_STEP = "calibration (temperature scaling)"
GLOBAL_SAMPLE_LIMIT = {"logreg": 500, "hist-gb": 300, "random-forest": 60}  # rows for mean |SHAP|


def output_space(bundle: ModelBundle) -> str:
    return PROBABILITY_SPACE if bundle.algorithm == "random-forest" else LOGIT_SPACE


def _explainer(bundle: ModelBundle):
    if bundle._explainer is None:
        import shap  # lazy: a slow import

        if bundle.algorithm == "logreg":
            bundle._explainer = shap.LinearExplainer(bundle.estimator, shap.maskers.Independent(bundle.background))
        else:
            bundle._explainer = shap.TreeExplainer(bundle.estimator)
    return bundle._explainer


def _scale(bundle: ModelBundle) -> float:
    return 1.0 if bundle.algorithm == "random-forest" else bundle.inverse_temperature


def shap_values(bundle: ModelBundle, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contributions (samples, features, classes) and base values (classes,) in the explained space."""
    explainer = _explainer(bundle)
    Z = bundle.preprocess(np.asarray(X, dtype=float))
    values = np.asarray(explainer.shap_values(Z, **({} if bundle.algorithm == "logreg" else {"check_additivity": False})))
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    n_classes = len(bundle.classes)
    if values.ndim == 2:  # a binary model explains one score: class 1 is +score, class 0 is -score
        values = np.stack([-values, values], axis=-1) / (2 if bundle.algorithm != "random-forest" else 1)
        base = np.array([-base[0], base[0]]) / (2 if bundle.algorithm != "random-forest" else 1)
    if values.shape[-1] != n_classes:
        raise ValueError(f"explainer returned {values.shape[-1]} outputs for {n_classes} classes")
    scale = _scale(bundle)
    return values * scale, base * scale


def explained_output(bundle: ModelBundle, X: np.ndarray) -> np.ndarray:
    """The model output that the SHAP values add up to, per sample and class."""
    X = np.asarray(X, dtype=float)
    if bundle.algorithm == "random-forest":
        return bundle.pipeline.predict_proba(X)
    scores = np.asarray(bundle.pipeline.decision_function(X), dtype=float)
    if scores.ndim == 1:
        scores = np.stack([-scores / 2, scores / 2], axis=-1)
    return scores * bundle.inverse_temperature


@dataclass
class Contribution:
    feature: str
    group: str
    value: float | None  # the sample's input value (NaN -> None: imputed)
    shap: float  # in the explained output's space
    effect: float = 0.0  # the change it makes to the calibrated probability, on the waterfall's path

    def to_dict(self) -> dict:
        return {"feature": self.feature, "group": self.group, "value": self.value, "shap": self.shap,
                "effect": self.effect}


@dataclass
class Explanation:
    sample: str
    class_name: str
    probability: float
    base_value: float
    output: float
    output_space: str
    top: list[Contribution]
    rest: float  # sum of the contributions not in `top`
    n_rest: int
    group_sums: dict[str, float]
    predicted_class: str  # the sample's predicted class (class_name may be another one)
    # The waterfall in the terms of `probability` (the calibrated probability the page states):
    # probability_base + sum of top effects + rest_effect + calibration_step == probability.
    probability_base: float
    rest_effect: float
    calibration_step: float
    calibration_label: str | None  # CALIBRATION_STEP for a random forest; None: no separate step

    def to_dict(self) -> dict:
        return {
            "sample": self.sample, "class": self.class_name, "probability": self.probability,
            "base_value": self.base_value, "output": self.output, "output_space": self.output_space,
            "top": [c.to_dict() for c in self.top], "rest": self.rest, "n_rest": self.n_rest,
            "group_sums": self.group_sums, "predicted_class": self.predicted_class,
            "probability_base": self.probability_base, "rest_effect": self.rest_effect,
            "calibration_step": self.calibration_step, "calibration_label": self.calibration_label,
        }


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _probability_path(bundle: ModelBundle, phi: np.ndarray, base: np.ndarray, k: int, order: np.ndarray,
                      probability: float) -> tuple[float, list[float], float, float]:
    """(start, effect of each feature in `order`, effect of all the others, calibration step) in the
    calibrated probability of class k; phi: (features, classes) contributions, base: (classes,)."""
    if bundle.algorithm == "random-forest":  # already probabilities; then temperature scaling
        start, effects = float(base[k]), [float(phi[j, k]) for j in order]
        rest = float(phi[:, k].sum() - phi[order, k].sum())
    else:  # log-odds of every class, features added in the waterfall's order, through the softmax
        z = base.astype(float).copy()
        start = previous = float(_softmax(z)[k])
        effects = []
        for j in order:
            z += phi[j]
            current = float(_softmax(z)[k])
            effects.append(current - previous)
            previous = current
        z = base + phi.sum(axis=0)  # every feature: the explained output itself
        rest = float(_softmax(z)[k]) - previous
    return start, effects, rest, probability - (start + sum(effects) + rest)


def explain(bundle: ModelBundle, schema: FeatureSchema, X: np.ndarray, ids: list[str],
            class_name: str | None = None, top_k: int = 20) -> list[Explanation]:
    """One explanation per row of X: for `class_name`, or for each row's predicted class."""
    X = np.asarray(X, dtype=float)
    if class_name is not None and class_name not in bundle.classes:
        raise ValueError(f"unknown class {class_name!r}; the model's classes are {', '.join(bundle.classes)}")
    values, base = shap_values(bundle, X)
    proba = bundle.predict_proba(X)
    groups = np.array(schema.groups)
    names = schema.names
    explanations = []
    for i, sample in enumerate(ids):
        predicted = int(np.argmax(proba[i]))
        k = bundle.classes.index(class_name) if class_name else predicted
        phi = values[i, :, k]
        order = np.argsort(-np.abs(phi), kind="stable")[:top_k]
        start, effects, rest_effect, step = _probability_path(bundle, values[i], base, k, order, float(proba[i, k]))
        top = [Contribution(names[j], groups[j], None if np.isnan(X[i, j]) else float(X[i, j]), float(phi[j]),
                            effect) for j, effect in zip(order, effects)]
        group_sums = pd.Series(phi).groupby(groups).sum()
        explanations.append(Explanation(
            sample=str(sample), class_name=bundle.classes[k], probability=float(proba[i, k]),
            base_value=float(base[k]), output=float(base[k] + phi.sum()), output_space=output_space(bundle),
            top=top, rest=float(phi.sum() - phi[order].sum()), n_rest=len(phi) - len(order),
            group_sums={str(g): float(v) for g, v in group_sums.items()},
            predicted_class=bundle.classes[predicted], probability_base=start, rest_effect=rest_effect,
            calibration_step=step, calibration_label=CALIBRATION_STEP if bundle.algorithm == "random-forest" else None,
        ))
    return explanations


def global_importance(bundle: ModelBundle, schema: FeatureSchema, X: np.ndarray, seed: int) -> dict:
    """Mean |SHAP| per feature (averaged over classes) and summed per feature group, over up to a few
    hundred samples of X chosen with the seed. Computed once, at training time."""
    limit = GLOBAL_SAMPLE_LIMIT[bundle.algorithm]
    rows = np.random.default_rng(seed).permutation(len(X))[:limit]
    values, _ = shap_values(bundle, X[np.sort(rows)])
    per_class = np.abs(values).mean(axis=0)  # (features, classes)
    per_feature = per_class.mean(axis=1)
    order = np.argsort(-per_feature, kind="stable")
    frame = pd.DataFrame({"feature": schema.names, "group": schema.groups, "mean_abs_shap": per_feature})
    return {
        "n_samples": int(len(rows)),
        "output_space": output_space(bundle),
        "features": [{"feature": schema.names[j], "group": schema.groups[j],
                      "mean_abs_shap": round(float(per_feature[j]), 8)} for j in order],
        "groups": {str(g): round(float(v), 8)
                   for g, v in frame.groupby("group")["mean_abs_shap"].sum().sort_values(ascending=False).items()},
        "per_class_top": {
            c: [schema.names[j] for j in np.argsort(-per_class[:, k], kind="stable")[:10]]
            for k, c in enumerate(bundle.classes)
        },
    }
