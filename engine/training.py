"""Reproducible training of one model version from a dataset.

1. A stratified split grouped by patient (or cell line) sets aside a held-out test set (seeded).
2. Each candidate is cross-validated on the training split (balanced accuracy, same folds for all).
3. The simplest candidate within one standard error of the best mean is chosen (the "one-SE rule":
   a simpler model that scores the same is preferred; order: logreg, hist-gb, random-forest).
4. Its probabilities are calibrated by temperature scaling on out-of-fold predictions.
5. The abstain threshold is chosen on the out-of-fold calibrated predictions (validation data).
6. All reported metrics come from the held-out split, which no step above has seen.
7. For a multi-omics dataset (DatasetSpec.blocks), the chosen candidate is refitted on each block's
   features alone, on the same training split with the same seed, and scored on the same held-out
   split (metrics["per_block"]): what each block brings, against all blocks together.
"""
from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from engine import explain, metrics
from engine.bundle import ModelBundle
from engine.datasets import Dataset
from engine.ood import NEIGHBOURS, QUANTILE, OutOfDistributionDetector
from engine.preprocessing import preprocessing_steps

log = logging.getLogger(__name__)

DEFAULT_SEED = 42
TEST_SHARE_FOLDS = 5  # the held-out split is one fold of five: 20% of the groups
DEFAULT_CV_FOLDS = 5
DEFAULT_TARGET_ACCURACY = 0.90
BACKGROUND_ROWS = 200
FAST_PATH_TOLERANCE = 1e-9  # ModelBundle.predict_proba against CalibratedClassifierCV.predict_proba
ALGORITHMS = ("logreg", "hist-gb", "random-forest")  # simplest first: the one-SE rule's order


@dataclass(frozen=True)
class Candidate:
    algorithm: str
    params: dict

    @property
    def label(self) -> str:
        return self.algorithm + "(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"


CANDIDATES: dict[str, list[Candidate]] = {
    # stronger regularisation first: on a tie, the one-SE rule keeps the simpler model
    "logreg": [Candidate("logreg", {"C": 0.01}), Candidate("logreg", {"C": 0.1})],
    "hist-gb": [Candidate("hist-gb", {"max_iter": 60, "learning_rate": 0.1, "max_depth": 3})],
    # depth-limited: as accurate in cross-validation on GDSC as unlimited trees, and 15 times faster to
    # explain (TreeSHAP's cost grows with the square of the depth)
    "random-forest": [Candidate("random-forest", {"n_estimators": 100, "max_depth": 12, "min_samples_leaf": 2})],
}


def _classifier(candidate: Candidate, seed: int):
    p = candidate.params
    if candidate.algorithm == "logreg":  # L2 is the default penalty
        return LogisticRegression(C=p["C"], max_iter=5000, class_weight="balanced")
    if candidate.algorithm == "random-forest":
        return RandomForestClassifier(n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                                      min_samples_leaf=p["min_samples_leaf"],
                                      class_weight="balanced", random_state=seed, n_jobs=1)
    if candidate.algorithm == "hist-gb":  # never categorical_features: its SHAP values come out wrong
        return HistGradientBoostingClassifier(max_iter=p["max_iter"], learning_rate=p["learning_rate"],
                                              max_depth=p["max_depth"], class_weight="balanced",
                                              early_stopping=False, random_state=seed)
    raise ValueError(f"unknown algorithm {candidate.algorithm!r}")


def build_pipeline(candidate: Candidate, preprocessing: str, seed: int) -> Pipeline:
    steps = preprocessing_steps(preprocessing, scale=candidate.algorithm == "logreg")
    return Pipeline([*steps, ("classifier", _classifier(candidate, seed))])


def _raw_output(model, X: np.ndarray) -> np.ndarray:
    """What temperature scaling calibrates: decision scores, or probabilities for a forest."""
    return model.decision_function(X) if hasattr(model, "decision_function") else model.predict_proba(X)


def held_out_split(dataset: Dataset, seed: int) -> tuple[np.ndarray, np.ndarray]:
    splitter = StratifiedGroupKFold(n_splits=TEST_SHARE_FOLDS, shuffle=True, random_state=seed)
    train, test = next(splitter.split(dataset.X, dataset.y, dataset.groups))
    return np.sort(train), np.sort(test)


@dataclass
class CandidateScore:
    candidate: Candidate
    fold_scores: list[float]
    oof_raw: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))

    @property
    def standard_error(self) -> float:
        return self.std / np.sqrt(len(self.fold_scores))


def _cross_validate(candidate, preprocessing, X, y, folds, seed, n_classes, on_fold=None) -> CandidateScore:
    oof = np.zeros((len(y), n_classes))
    scores = []
    for fold, (fit_idx, val_idx) in enumerate(folds, start=1):
        if on_fold is not None:
            on_fold(fold)
        model = build_pipeline(candidate, preprocessing, seed).fit(X[fit_idx], y[fit_idx])
        raw = _raw_output(model, X[val_idx])
        oof[val_idx] = raw if raw.ndim == 2 else np.column_stack([-raw, raw])
        scores.append(balanced_accuracy_score(y[val_idx], model.predict(X[val_idx])))
    log.info("%s: balanced accuracy %.3f +- %.3f", candidate.label, np.mean(scores), np.std(scores))
    return CandidateScore(candidate, [float(s) for s in scores], oof)


def select(scores: list[CandidateScore]) -> CandidateScore:
    """The one-SE rule: the simplest candidate whose mean is within one standard error of the best."""
    best = max(scores, key=lambda s: s.mean)
    return next(s for s in scores if s.mean >= best.mean - best.standard_error)


@dataclass
class TrainingResult:
    bundle: ModelBundle
    metadata: dict  # everything the registry stores beside the artifact, but the name and version


Progress = Callable[[int, int, int, int], None]  # (candidate, candidates, fold, folds), counted from 1


def train(dataset: Dataset, algorithm: str = "auto", seed: int = DEFAULT_SEED,
          cv_folds: int = DEFAULT_CV_FOLDS, target_accuracy: float = DEFAULT_TARGET_ACCURACY,
          progress: Progress | None = None) -> TrainingResult:
    """Train and evaluate one model version (the steps above). `progress(candidate, candidates, fold,
    folds)`, when given, is called before each cross-validation fit: it only reports, and the result is
    the same with or without it.

    BLAS runs on one thread throughout: a multi-threaded BLAS splits its sums by the machine's thread
    count, which moved L-BFGS's path (174 against 184 iterations on brca-subtype, coefficients 1e-3 apart)
    and so the cross-validated means. OpenMP stays parallel: histogram gradient boosting gave identical
    probabilities on one thread and on two."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(dataset, algorithm, seed, cv_folds, target_accuracy, progress)


def _train(dataset: Dataset, algorithm: str, seed: int, cv_folds: int, target_accuracy: float,
           progress: Progress | None) -> TrainingResult:
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose auto or one of {', '.join(ALGORITHMS)}")
    X_all = dataset.X.to_numpy(dtype=float)
    y_all = dataset.y.astype(str).to_numpy()
    train_idx, test_idx = held_out_split(dataset, seed)
    X, y, groups = X_all[train_idx], y_all[train_idx], dataset.groups.to_numpy()[train_idx]
    X_test, y_test = X_all[test_idx], y_all[test_idx]
    classes = sorted(set(y))
    folds = list(StratifiedGroupKFold(n_splits=cv_folds, shuffle=True, random_state=seed + 1).split(X, y, groups))

    algorithms = ALGORITHMS if algorithm == "auto" else (algorithm,)
    pre = dataset.spec.preprocessing
    candidates = [c for a in algorithms for c in CANDIDATES[a]]

    def on_fold(number: int):
        return None if progress is None else (lambda fold: progress(number, len(candidates), fold, len(folds)))

    scores = [_cross_validate(c, pre, X, y, folds, seed, len(classes), on_fold(i))
              for i, c in enumerate(candidates, start=1)]
    chosen = select(scores)
    log.info("chosen: %s", chosen.candidate.label)

    calibrated = CalibratedClassifierCV(build_pipeline(chosen.candidate, pre, seed), method="temperature",
                                        ensemble=False, cv=folds).fit(X, y)
    if list(calibrated.classes_) != classes:
        raise RuntimeError("class order changed during calibration")
    calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
    oof_proba = calibrator.predict(chosen.oof_raw)  # out-of-fold, calibrated: the validation data
    oof_confidence, _ = metrics.confidence_and_margin(oof_proba)
    oof_correct = oof_proba.argmax(axis=1) == np.searchsorted(classes, y)
    abstain = metrics.choose_abstain_threshold(oof_correct, oof_confidence, target_accuracy)

    schema = dataset.schema.with_training_range(X)
    rng = np.random.default_rng(seed)
    background_rows = np.sort(rng.permutation(len(X))[:BACKGROUND_ROWS])
    bundle = ModelBundle(classifier=calibrated, ood=OutOfDistributionDetector(pre, seed).fit(X),
                         classes=classes, algorithm=chosen.candidate.algorithm, background=np.empty((0, 0)))
    bundle.background = bundle.preprocess(X[background_rows])

    test_proba = bundle.predict_proba(X_test)
    fast_path_error = float(np.abs(test_proba - calibrated.predict_proba(X_test)).max())
    if fast_path_error > FAST_PATH_TOLERANCE:
        raise RuntimeError(f"fast prediction path differs from scikit-learn by {fast_path_error:g}")
    held_out = metrics.evaluate(y_test, test_proba, classes, abstain["threshold"])
    block_scores = per_block_scores(dataset, chosen.candidate, seed, X, y, X_test, y_test, held_out)
    if block_scores is not None:
        held_out["per_block"] = block_scores
    importance = explain.global_importance(bundle, schema, X_test, seed)
    metadata = _metadata(dataset, seed, chosen, scores, cv_folds, abstain, held_out, importance, schema,
                         classes, bundle, train_idx, test_idx)
    return TrainingResult(bundle=bundle, metadata=metadata)


def _class_scores(y_true: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict:
    recall = recall_score(y_true, predicted, labels=classes, average=None, zero_division=0)
    return {"balanced_accuracy": round(float(balanced_accuracy_score(y_true, predicted)), 6),
            "macro_f1": round(float(f1_score(y_true, predicted, labels=classes, average="macro",
                                             zero_division=0)), 6),
            "per_class_recall": {c: round(float(r), 6) for c, r in zip(classes, recall)}}


def per_block_scores(dataset: Dataset, candidate: Candidate, seed: int, X: np.ndarray, y: np.ndarray,
                     X_test: np.ndarray, y_test: np.ndarray, held_out: dict) -> dict | None:
    """Each omics block alone against all blocks, on the held-out split (None unless the dataset has
    more than one block). A block-only variant is the chosen candidate (same algorithm, hyperparameters,
    preprocessing and seed) fitted on the training split's columns of that block. It is not calibrated:
    temperature scaling never changes which class is most probable, so its balanced accuracy, macro-F1
    and recalls are those of a calibrated variant; "all blocks" are the version's own figures."""
    blocks = dataset.spec.blocks
    if len(blocks) < 2:
        return None
    classes = sorted(set(y))
    groups = np.array(dataset.schema.groups)
    scores = []  # a list, in the dataset's block order (stored JSON sorts a dict's keys)
    for block in blocks:
        columns = np.flatnonzero(groups == block)
        if len(columns) == 0:  # a feature subset without this block
            continue
        model = build_pipeline(candidate, dataset.spec.preprocessing, seed).fit(X[:, columns], y)
        scores.append({"block": block, "n_features": int(len(columns)),
                       **_class_scores(y_test, model.predict(X_test[:, columns]), classes)})
    every = {"n_features": int(X.shape[1]), "balanced_accuracy": held_out["balanced_accuracy"],
             "macro_f1": held_out["macro_f1"],
             "per_class_recall": {c: held_out["per_class"][c]["recall"] for c in classes}}
    return {"method": f"{candidate.label} refitted on each block's features alone; same training and "
                      f"held-out split, same seed; not calibrated (argmax unchanged by temperature scaling)",
            "candidate": candidate.label, "blocks": scores, "all_blocks": every}


TRAINING_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "shap", "joblib")


def package_versions(names: tuple[str, ...] = TRAINING_PACKAGES) -> dict[str, str]:
    """Python's version and each named package's ("not installed" when absent)."""
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), **{n: version(n) for n in names}}


def _metadata(dataset, seed, chosen, scores, cv_folds, abstain, held_out, importance, schema, classes,
              bundle, train_idx, test_idx) -> dict:
    ids = dataset.X.index.astype(str)
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"id": dataset.id, "checksum": dataset.checksum, "title": dataset.spec.title,
                    "provenance": dataset.provenance()},
        "seed": seed,
        "algorithm": chosen.candidate.algorithm,
        "hyperparameters": {**chosen.candidate.params, "calibration": "temperature scaling (out-of-fold)",
                            "class_weight": "balanced",
                            "pipeline": [name for name, _ in bundle.pipeline.steps]},
        "package_versions": package_versions(),
        "classes": classes,
        "feature_schema": schema.to_dict(),
        "split": {"method": f"stratified, grouped by {dataset.groups.name}; held-out = 1 of "
                            f"{TEST_SHARE_FOLDS} folds", "n_train": int(len(train_idx)),
                  "n_test": int(len(test_idx)), "test_ids": ids[test_idx].tolist()},
        "cross_validation": {
            "folds": cv_folds, "metric": "balanced_accuracy", "selection": "one standard error rule",
            "selected": chosen.candidate.label,
            "candidates": [{"candidate": s.candidate.label, "algorithm": s.candidate.algorithm,
                            "params": s.candidate.params, "mean": round(s.mean, 6), "std": round(s.std, 6),
                            "folds": [round(f, 6) for f in s.fold_scores]} for s in scores],
            "mean": round(chosen.mean, 6), "std": round(chosen.std, 6),
        },
        "temperature": round(1.0 / bundle.inverse_temperature, 6),
        "abstain": abstain,
        "out_of_distribution": {"method": f"mean distance to {NEIGHBOURS} nearest training samples in PCA space",
                                "threshold": round(bundle.ood.threshold_, 6), "training_quantile": QUANTILE},
        "metrics": held_out,
        "global_importance": importance,
    }
